"""What ``@card`` records on a step: which card to render (type, id) and how (options, timeout, refresh interval).

Plain data, checked when the decorator runs so a typo fails at class definition, naming the flow, the step and the
field. Stored on the step function itself (a list, since a step may carry several cards), so a flow class pickled
by value carries its cards into a pod.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from flowkit.authoring.step import CARDS_ATTR

__all__ = ["CARDS_ATTR", "CARD_TYPES", "CardDeclaration"]

CARD_TYPES = ("default", "blank")
"""``default``: the task's parameters, artifacts, timing and DAG, then appended components; ``blank``: only them."""

_NAME = re.compile(r"^[A-Za-z0-9_]+$")
"""Card ids (and types) become part of a file name in the datastore."""


@dataclass(frozen=True)
class CardDeclaration:
    type: str = "default"
    id: str | None = None
    options: dict[str, Any] = field(default_factory=dict)
    timeout: float = 45
    """Accepted for Metaflow compatibility; rendering runs to completion (cards render in the task's own process)."""
    refresh_interval: float = 5
    """Seconds between reloads of the card's page while the task runs and ``current.card.refresh()`` is called."""

    def problems(self) -> list[tuple[str, str]]:
        """(field, message) for every invalid field."""
        found = []
        if self.type not in CARD_TYPES:
            found.append(("type", f"must be one of {', '.join(CARD_TYPES)}, got {self.type!r}"))
        if self.id is not None and not (isinstance(self.id, str) and _NAME.match(self.id)):
            found.append(("id", f"must be letters, digits and underscores, got {self.id!r}"))
        if not isinstance(self.options, dict):
            found.append(("options", f"must be a dict, got {type(self.options).__name__}"))
        for name in ("timeout", "refresh_interval"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
                found.append((name, f"must be a number of seconds > 0, got {value!r}"))
        return found

    @property
    def file_stem(self) -> str:
        """``default`` or ``default.<id>``: how the card's file is named in the task's directory."""
        return self.type if self.id is None else f"{self.type}.{self.id}"
