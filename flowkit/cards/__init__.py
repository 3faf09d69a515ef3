"""Cards: HTML reports of a task, rendered into the datastore (``@card``, ``current.card``, ``get_cards``).

The component names are Metaflow's (``from metaflow.cards import Markdown`` becomes
``from flowkit.cards import Markdown``). Everything a task runs to render a card uses the standard library only;
``get_cards`` (reading cards back) loads the client on first use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from flowkit import lazy_exports
from flowkit.cards.components import Artifact, CardComponent, Image, Markdown, ProgressBar, Table, VegaChart

if TYPE_CHECKING:
    from flowkit.client.cards import Card, get_cards

__all__ = [
    "Artifact",
    "Card",
    "CardComponent",
    "Image",
    "Markdown",
    "ProgressBar",
    "Table",
    "VegaChart",
    "get_cards",
]

__getattr__, __dir__ = lazy_exports(
    __name__, {"get_cards": "flowkit.client.cards", "Card": "flowkit.client.cards"}, __all__
)
