"""The default card's content: what a task was given, what it produced, how long it took, and where it sits.

Sections: a heading with the task's status; timing and attempts; the error if the attempt failed; parameters; every
artifact the task passes on (name, type, size and a short repr); the flow's DAG with this step outlined; then the
components the step appended.

A card is written by every task of a step, so it is built from what the task already holds: names, types and sizes
from the record, short reprs of the values the step set or read, taken once when they were persisted. An inherited
artifact the step never read is listed without its value rather than read back from the datastore; only parameters,
small by nature and what a reader looks for first, are loaded when the step did not read them.
"""

from __future__ import annotations

import html
from collections.abc import Mapping

from flowkit.cards.components import Table, short_repr
from flowkit.cards.dag import outlined_dag
from flowkit.datastore import ArtifactRef, DataStore, TaskRecord
from flowkit.graph.model import FlowGraph
from flowkit.identity import TaskRef

REPR_LOAD_LIMIT = 256 * 1024
"""Artifacts whose stored size exceeds this many bytes are listed without loading them for a repr."""

NOT_READ = "(inherited, not read by this step)"
"""What the card shows for an inherited artifact the step never read: its value is on the card of the step that set
it, and reading it back here would cost every task of the step a datastore read and an unpickle."""


def task_heading(coords: TaskRef, status: str, detail: str) -> str:
    pathspec = html.escape(f"{coords.flow}/{coords.run_id}/{coords.step}/{coords.task_id}")
    return (
        f'<h1>{html.escape(coords.step)} <span class="fk-status fk-status-{status}">{html.escape(status)}</span></h1>'
        f'<div class="fk-meta">{pathspec}{" · " + html.escape(detail) if detail else ""}</div>'
    )


def default_card_body(
    store: DataStore,
    record: TaskRecord,
    graph: FlowGraph,
    parameter_names: list[str],
    components: str,
    value_reprs: Mapping[str, str],
) -> str:
    """The card's HTML body; ``value_reprs`` holds the short reprs of the artifacts the task has in memory."""
    coords = TaskRef(record.flow, record.run_id, record.step, tuple(record.index_path))
    retries = ((record.spec or {}).get("retry") or {}).get("times", 0)
    duration = (record.finished_at - record.started_at).total_seconds()
    parts = [
        task_heading(coords, record.status, ""),
        Table(
            [
                ["Started", record.started_at.isoformat(timespec="seconds")],
                ["Finished", record.finished_at.isoformat(timespec="seconds")],
                ["Duration", format_duration(duration)],
                ["Attempt", f"{record.attempt + 1} of {retries + 1}"],
            ]
        ).render(),
    ]
    if record.error is not None:
        error = record.error
        parts.append(f"<h2>Error</h2><pre>{html.escape(f'{error.traceback}{error.type}: {error.message}')}</pre>")
    parameters = {name: ref for name, ref in record.artifacts.items() if name in parameter_names}
    if parameters:
        rows = [
            [name, value_reprs[name] if name in value_reprs else artifact_text(store, coords, name, ref)]
            for name, ref in sorted(parameters.items())
        ]
        parts.append("<h2>Parameters</h2>" + Table(rows, ["Name", "Value"]).render())
    artifacts = {name: ref for name, ref in record.artifacts.items() if name not in parameter_names}
    if artifacts:
        rows = [
            [name, ref.type, format_size(ref.size), value_reprs.get(name, NOT_READ)]
            for name, ref in sorted(artifacts.items())
        ]
        parts.append("<h2>Artifacts</h2>" + Table(rows, ["Name", "Type", "Size", "Value"]).render())
    parts.append(f'<h2>DAG</h2><div class="fk-scroll">{outlined_dag(graph, record.step)}</div>')
    if components:
        parts.append(components)
    return "\n".join(parts)


def format_size(size: int) -> str:
    """Bytes as B, KB, MB or GB (powers of 1024), one decimal above bytes."""
    if size < 1024:
        return f"{size} B"
    scaled = size / 1024
    for unit in ("KB", "MB"):
        if scaled < 1024:
            return f"{scaled:.1f} {unit}"
        scaled /= 1024
    return f"{scaled:.1f} GB"


def format_duration(seconds: float) -> str:
    if seconds < 60:
        return f"{seconds:.2f} s"
    minutes, seconds = divmod(seconds, 60)
    hours, minutes = divmod(minutes, 60)
    return f"{int(hours)} h {int(minutes)} min {seconds:.0f} s" if hours else f"{int(minutes)} min {seconds:.0f} s"


def artifact_text(store: DataStore, coords: TaskRef, name: str, ref: ArtifactRef) -> str:
    """A short repr of a stored artifact, or why it is not shown (too large to load for a glance, or not loadable)."""
    if ref.size > REPR_LOAD_LIMIT:
        return f"(not loaded: {format_size(ref.size)})"
    try:
        return short_repr(store.load_artifact(ref, artifact=name, task=coords))
    except Exception as error:  # a class the card cannot import, say: the card still lists the artifact
        return f"(cannot load: {type(error).__name__}: {error})"
