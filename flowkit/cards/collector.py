"""``current.card``: the components a running step adds to its cards, and ``refresh()`` to show them mid-task.

``current.card.append(c)`` fills the step's editable card: the one without an id (or the only card);
``current.card["id"].append(c)`` fills a named card. Components are kept by reference and rendered when the card
is written, so ``progress.update(n)`` followed by ``current.card.refresh()`` (or ``current.card["id"].refresh()``)
shows the new value. In a step without ``@card``, or with several cards that all have ids, ``current.card.append``
is accepted and dropped with one warning, as in Metaflow, so a step runs with and without its card decorators.
"""

from __future__ import annotations

import itertools
import sys
import time
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from flowkit.cards.components import CardComponent
from flowkit.cards.declaration import CardDeclaration

_MIN_REFRESH_SECONDS = 1.0
"""``refresh()`` in a tight loop writes the card at most this often: each write is an fsynced file on shared storage."""


class CardComponents:
    """The components of one card, in the order they were added, and Metaflow's per-card calls on them.

    ``current.card["id"]`` is one of these: it can ``refresh()`` on its own, and a component appended with an id
    (``append(chart, id="loss")``) is found again as ``components["loss"]``, removed with ``del components["loss"]``
    and added under an id with ``components["loss"] = chart``, so code written for Metaflow's per-card manager (and
    its component store, ``current.card["id"].components``) runs unchanged.
    """

    def __init__(self, declaration: CardDeclaration, on_refresh: Callable[[], None]) -> None:
        self.declaration = declaration
        self._entries: dict[str | int, CardComponent] = {}
        """Every component in the order added: under its id, or under a number for the many added without one."""
        self._unnamed = itertools.count()
        self._on_refresh = on_refresh

    @property
    def components(self) -> CardComponents:
        """Metaflow's ``current.card["id"].components``: the card's components by id; here the card itself."""
        return self

    def append(self, component: CardComponent, id: str | None = None) -> None:
        if not isinstance(component, CardComponent):
            kind = type(component).__name__
            raise TypeError(f"current.card.append takes a card component (Markdown, Table, Image, ...), got {kind}")
        self._entries[next(self._unnamed) if id is None else id] = component

    def extend(self, components: Iterable[CardComponent]) -> None:
        for component in components:
            self.append(component)

    def clear(self) -> None:
        self._entries.clear()

    def replace_all(self, components: Iterable[CardComponent]) -> None:
        """What ``current.card["id"] = [...]`` does: the card shows these components instead of its earlier ones."""
        components = list(components)
        self.clear()
        self.extend(components)

    def refresh(self, *_: Any, **__: Any) -> None:
        """Write the step's cards now (see `CardCollector.refresh`)."""
        self._on_refresh()

    def keys(self) -> list[str]:
        """The ids of the components appended with one."""
        return [key for key in self._entries if isinstance(key, str)]

    def __getitem__(self, component_id: str) -> CardComponent:
        """The component appended with ``id=component_id``."""
        if component_id not in self:
            raise KeyError(self._unknown_id(component_id)) from None
        return self._entries[component_id]

    def __setitem__(self, component_id: str, component: CardComponent) -> None:
        """Add ``component`` under an id not taken yet. As in Metaflow, an existing component is not overwritten in
        place: delete it first, or give the card a whole new list with ``current.card["card_id"] = [...]``."""
        if component_id in self:
            raise KeyError(
                f"@card {self.declaration.file_stem} already has a component with id {component_id!r}; "
                f"del current.card.components[{component_id!r}] first, or update the component itself"
            )
        self.append(component, id=component_id)

    def __delitem__(self, component_id: str) -> None:
        """Remove the component appended with ``id=component_id`` from the card."""
        if component_id not in self:
            raise KeyError(self._unknown_id(component_id))
        del self._entries[component_id]

    def _unknown_id(self, component_id: str) -> str:
        known = ", ".join(repr(key) for key in self.keys()) or "none"
        return f"@card {self.declaration.file_stem} has no component with id {component_id!r}; its ids: {known}"

    def __contains__(self, component_id: object) -> bool:
        return isinstance(component_id, str) and component_id in self._entries

    def __iter__(self) -> Iterator[CardComponent]:
        return iter(list(self._entries.values()))

    def __len__(self) -> int:
        return len(self._entries)


class CardCollector:
    """What ``current.card`` is in a step with ``@card``."""

    def __init__(self, declarations: list[CardDeclaration], on_refresh: Callable[[], None], *, step: str) -> None:
        """``step`` (``"TrainFlow.train"``) names the step in errors, so a wrong card id says where it was used."""
        self.step = step
        self.cards = {declaration.id: CardComponents(declaration, self.refresh) for declaration in declarations}
        unnamed = [declaration for declaration in declarations if declaration.id is None]
        self._editable = (
            self.cards[None] if unnamed else (self.cards[declarations[0].id] if len(declarations) == 1 else None)
        )
        self._on_refresh = on_refresh
        self._last_refresh = 0.0
        self._unresolved = NoCards(
            f"current.card.append: every @card of {step} has an id, so the component goes nowhere; "
            "use current.card['<id>'].append(...)"
        )

    def __getitem__(self, card_id: str) -> CardComponents:
        try:
            return self.cards[card_id]
        except KeyError:
            named = ", ".join(repr(key) for key in self.cards if key is not None) or "none"
            raise KeyError(f"{self.step} has no @card(id={card_id!r}); its card ids: {named}") from None

    def __setitem__(self, card_id: str, components: Iterable[CardComponent]) -> None:
        """``current.card["id"] = [...]``: the named card shows these components instead of its earlier ones."""
        self[card_id].replace_all(components)

    def __contains__(self, card_id: object) -> bool:
        return card_id in self.cards

    def get(self, type: str | None = None, id: str | None = None) -> list[CardComponents]:
        """The components of every card of this step with this ``type`` and ``id`` (each filter applies when given),
        in declaration order: Metaflow's ``current.card.get(type=...)``, for a card that is neither editable by
        default nor worth an id."""
        return [
            components
            for components in self.cards.values()
            if (type is None or components.declaration.type == type) and (id is None or components.declaration.id == id)
        ]

    @property
    def components(self) -> CardComponents | NoCards:
        """The editable card's components; with none to pick (several cards, all with ids) a sink that warns once,
        as Metaflow warns rather than failing the step."""
        return self._unresolved if self._editable is None else self._editable

    def append(self, component: CardComponent, id: str | None = None) -> None:
        self.components.append(component, id=id)

    def extend(self, components: Iterable[CardComponent]) -> None:
        self.components.extend(components)

    def clear(self) -> None:
        self.components.clear()

    def refresh(self, *_: Any, **__: Any) -> None:
        """Write the cards now, as they are, so a viewer sees progress (at most once a second)."""
        now = time.monotonic()
        if now - self._last_refresh < _MIN_REFRESH_SECONDS:
            return
        self._last_refresh = now
        self._on_refresh()


class NoCards:
    """Where components go that no card shows (``current.card`` outside a ``@card`` step): every call is accepted
    and dropped, with one warning saying why."""

    def __init__(
        self, warning: str = "current.card: this step has no @card; the components are not shown anywhere"
    ) -> None:
        self._warning = warning
        self._warned = False

    def _drop(self, *_: Any, **__: Any) -> None:
        if not self._warned:
            self._warned = True
            print(self._warning, file=sys.stderr)

    append = extend = clear = refresh = __setitem__ = __delitem__ = _drop

    @property
    def components(self) -> NoCards:
        return self

    def get(self, type: str | None = None, id: str | None = None) -> list[CardComponents]:
        return []

    def __getitem__(self, card_id: str) -> NoCards:
        return self

    def __contains__(self, card_id: object) -> bool:
        return False
