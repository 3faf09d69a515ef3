"""``current.card``: the components a running step adds to its cards, and ``refresh()`` to show them mid-task.

``current.card.append(c)`` fills the step's editable card: the one without an id (or the only card);
``current.card["id"].append(c)`` fills a named card. Components are kept by reference and rendered when the card
is written, so ``progress.update(n)`` followed by ``current.card.refresh()`` shows the new value.
In a step without ``@card`` the calls are accepted and dropped with one warning, as in Metaflow, so a step can be
run with and without its card decorator.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from flowkit.cards.components import CardComponent
from flowkit.cards.declaration import CardDeclaration

_MIN_REFRESH_SECONDS = 1.0
"""``refresh()`` in a tight loop writes the card at most this often: each write is an fsynced file on shared storage."""


class CardComponents:
    """The components of one card, in the order they were added."""

    def __init__(self, declaration: CardDeclaration) -> None:
        self.declaration = declaration
        self.components: list[CardComponent] = []

    def append(self, component: CardComponent) -> None:
        if not isinstance(component, CardComponent):
            kind = type(component).__name__
            raise TypeError(f"current.card.append takes a card component (Markdown, Table, Image, ...), got {kind}")
        self.components.append(component)

    def extend(self, components: Iterable[CardComponent]) -> None:
        for component in components:
            self.append(component)

    def clear(self) -> None:
        self.components.clear()

    def __iter__(self) -> Iterator[CardComponent]:
        return iter(self.components)

    def __len__(self) -> int:
        return len(self.components)


class CardCollector:
    """What ``current.card`` is in a step with ``@card``."""

    def __init__(self, declarations: list[CardDeclaration], on_refresh: Callable[[], None]) -> None:
        self.cards = {declaration.id: CardComponents(declaration) for declaration in declarations}
        unnamed = [declaration for declaration in declarations if declaration.id is None]
        self._editable = (
            self.cards[None] if unnamed else (self.cards[declarations[0].id] if len(declarations) == 1 else None)
        )
        self._on_refresh = on_refresh
        self._last_refresh = 0.0

    def __getitem__(self, card_id: str) -> CardComponents:
        try:
            return self.cards[card_id]
        except KeyError:
            named = ", ".join(repr(key) for key in self.cards if key is not None) or "none"
            raise KeyError(f"this step has no @card(id={card_id!r}); its card ids: {named}") from None

    def __contains__(self, card_id: object) -> bool:
        return card_id in self.cards

    @property
    def components(self) -> CardComponents:
        """The editable card's components."""
        if self._editable is None:
            raise KeyError("every @card of this step has an id: use current.card['<id>'].append(...)")
        return self._editable

    def append(self, component: CardComponent) -> None:
        self.components.append(component)

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
    """``current.card`` outside a ``@card`` step: accepts every call and drops it, warning once."""

    def __init__(self) -> None:
        self._warned = False

    def _drop(self, *_: Any, **__: Any) -> None:
        if not self._warned:
            self._warned = True
            print("current.card: this step has no @card; the components are not shown anywhere", file=sys.stderr)

    append = extend = clear = refresh = _drop

    def __getitem__(self, card_id: str) -> NoCards:
        return self

    def __contains__(self, card_id: object) -> bool:
        return False
