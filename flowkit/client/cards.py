"""Read a task's cards back: ``get_cards(task)`` returns its cards, each with its HTML and a notebook display."""

from __future__ import annotations

import html
import webbrowser
from dataclasses import dataclass
from pathlib import Path

from flowkit.cards.storage import StoredCard, list_cards
from flowkit.client.objects import Task


@dataclass(frozen=True)
class Card:
    """One stored card of a task attempt (Metaflow's ``Card``: ``get()``, ``path``, ``id``, ``type``, ``view()``)."""

    type: str
    id: str | None
    attempt: int
    path: Path

    def get(self) -> str:
        """The card's HTML page."""
        return self.path.read_text(encoding="utf-8")

    def view(self) -> None:
        """Open the card in the default browser."""
        webbrowser.open(self.path.as_uri())

    def _repr_html_(self) -> str:
        """In a notebook: the card itself, isolated in an iframe so its style cannot touch the notebook's."""
        return f'<iframe srcdoc="{html.escape(self.get())}" style="width:100%;height:600px;border:0"></iframe>'


def get_cards(
    task: Task | str,
    id: str | None = None,
    type: str | None = None,
    follow_resumed: bool = True,
    attempt: int | None = None,
) -> list[Card]:
    """The cards of ``task`` (a `Task` or its pathspec) for its latest attempt (or ``attempt``), optionally filtered.

    Cards of a failed attempt stay readable: a retried task shows the latest attempt's cards unless asked otherwise.
    A task a resume reused shows the cards its origin task rendered, unless ``follow_resumed`` is False (Metaflow's
    keyword, in Metaflow's position).
    """
    if isinstance(task, str):
        task = Task(task)
    wanted_attempt = attempt if attempt is not None else task.attempt
    stored: list[StoredCard] = list_cards(task._store, task.coordinates, follow_resumed=follow_resumed)
    if wanted_attempt is None and stored:  # no record yet: the task is running; its newest cards are the live ones
        wanted_attempt = stored[-1].attempt
    return [
        Card(card.type, card.id, card.attempt, card.path)
        for card in stored
        if card.attempt == wanted_attempt and (id is None or card.id == id) and (type is None or card.type == type)
    ]
