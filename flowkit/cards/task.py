"""Render a task's declared cards into the datastore: mid-task on ``current.card.refresh()``, and once at the end.

The executor creates a `TaskCards` only for a step that carries ``@card``, so other tasks import none of this.
Rendering is kept apart from the task's outcome: a card that cannot be rendered becomes a card showing the error,
and the task's status is whatever its step made it.
"""

from __future__ import annotations

import html
import sys
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from flowkit.cards.collector import CardCollector
from flowkit.cards.components import render_components, short_repr
from flowkit.cards.dag import outlined_dag
from flowkit.cards.declaration import CardDeclaration
from flowkit.cards.default import default_card_body, task_heading
from flowkit.cards.page import html_page
from flowkit.cards.storage import card_path, write_card
from flowkit.datastore import DataStore, TaskRecord, utc_now
from flowkit.graph.model import FlowGraph
from flowkit.identity import TaskRef


class TaskCards:
    """The cards of one task attempt and the ``current.card`` that fills them."""

    def __init__(
        self,
        declarations: list[CardDeclaration],
        store: DataStore,
        coords: TaskRef,
        attempt: int,
        graph: FlowGraph,
        parameter_names: list[str],
        started_at: datetime,
    ) -> None:
        self.declarations = declarations
        self.store, self.coords, self.attempt = store, coords, attempt
        self.graph = graph
        self.parameter_names = parameter_names
        self.started_at = started_at
        self.collector = CardCollector(declarations, self.write_progress, step=f"{coords.flow}.{coords.step}")
        self.value_reprs: dict[str, str] = {}
        """Short reprs of the artifact values the task held when it persisted them (see `remember_values`)."""

    def remember_values(self, values: Mapping[str, Any]) -> None:
        """Take the short reprs of the values the step set or read, once, while they are still in memory, so the
        default card never reads a blob back from the datastore."""
        if any(declaration.type == "default" for declaration in self.declarations):
            self.value_reprs.update((name, short_repr(value)) for name, value in values.items())

    def write_progress(self) -> None:
        """Write each card as it stands, with a reload tag so an open page follows the task."""
        elapsed = (utc_now() - self.started_at).total_seconds()
        heading = task_heading(self.coords, "running", f"attempt {self.attempt + 1} · running for {elapsed:.0f} s")
        for declaration in self.declarations:
            body = heading + render_components(self.collector.cards[declaration.id])
            if declaration.type == "default":
                body += f'<h2>DAG</h2><div class="fk-scroll">{outlined_dag(self.graph, self.coords.step)}</div>'
            self._write(declaration, body, refresh_seconds=declaration.refresh_interval)

    def write_final(self, record: TaskRecord) -> None:
        """Write each card for the attempt's record; called just before the record is committed."""
        for declaration in self.declarations:
            try:
                components = render_components(self.collector.cards[declaration.id])
                if declaration.type == "default":
                    body = default_card_body(
                        self.store, record, self.graph, self.parameter_names, components, self.value_reprs
                    )
                else:
                    body = task_heading(self.coords, record.status, "") + components
            except Exception as error:  # the card reports its own failure; the task's outcome stands
                print(f"@card {declaration.file_stem}: rendering failed: {error!r}", file=sys.stderr)
                body = f'<div class="fk-error">{html.escape(f"This card failed to render: {error!r}")}</div>'
            self._write(declaration, body)

    def _write(self, declaration: CardDeclaration, body: str, *, refresh_seconds: float | None = None) -> None:
        title = (
            f"{self.coords.flow}/{self.coords.run_id}/{self.coords.step}/{self.coords.task_id} {declaration.file_stem}"
        )
        page = html_page(title, body, refresh_seconds=refresh_seconds)
        write_card(card_path(self.store, self.coords, self.attempt, declaration), page)
