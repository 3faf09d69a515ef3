"""The rich display of the client's `Run`, `Step` and `Task` in Jupyter: status, the DAG, artifacts.

Built from the same read model and pictures as the web UI, as one HTML fragment with inline SVG (notebooks render
it offline, and it survives being saved in the .ipynb).
"""

from __future__ import annotations

import html
from typing import TYPE_CHECKING

from flowkit.cards.components import Table
from flowkit.cards.dag import TaskCell, render_dag
from flowkit.cards.default import artifact_text, format_duration, format_size
from flowkit.cards.page import STYLE
from flowkit.ui.runs import RunReader, RunView, TaskView

if TYPE_CHECKING:
    from flowkit.client.objects import Step, Task
    from flowkit.client.run import Run

_SCOPED_STYLE = STYLE.replace("body {", ".fk-notebook {").replace("main {", ".fk-notebook main {")


def run_html(run: Run) -> str:
    view = RunReader(run._store.root).run(run.flow_name, run.id)
    rows = [
        [step, len(tasks), ", ".join(sorted({task.status for task in tasks}))] for step, tasks in view.steps.items()
    ]
    return _fragment(
        f"Run {view.flow}/{view.run_id}",
        view.status,
        format_duration(view.duration) if view.duration is not None else "",
        _dag(view, None) + Table(rows, ["Step", "Tasks", "Statuses"]).render(),
    )


def step_html(step: Step) -> str:
    view = RunReader(step._store.root).run(step.flow_name, step.run_id)
    tasks = view.steps.get(step.name, [])
    rows = [[task.task_id, task.status, len(task.attempts)] for task in tasks]
    status = "pending" if not tasks else _worst(tasks)
    return _fragment(
        f"Step {step.pathspec}",
        status,
        f"{len(tasks)} tasks",
        _dag(view, step.name) + Table(rows, ["Task", "Status", "Attempts"]).render(),
    )


def task_html(task: Task) -> str:
    flow, run_id, step = task.coordinates.flow, task.coordinates.run_id, task.coordinates.step
    reader = RunReader(task._store.root)
    view = reader.run(flow, run_id)
    record = task.metadata
    detail = ""
    body = ""
    if record is not None:
        detail = (
            f"attempt {record.attempt} · {format_duration((record.finished_at - record.started_at).total_seconds())}"
        )
        rows = [
            [name, ref.type, format_size(ref.size), artifact_text(reader.store, task.coordinates, name, ref)]
            for name, ref in sorted(record.artifacts.items())
        ]
        body = Table(rows, ["Artifact", "Type", "Size", "Value"]).render() if rows else ""
        if record.error is not None:
            body += f'<pre class="fk-error">{html.escape(f"{record.error.type}: {record.error.message}")}</pre>'
    status = next((item.status for item in view.steps.get(step, []) if item.task_id == task.id), task.status)
    return _fragment(f"Task {task.pathspec}", status, detail, body + _dag(view, step))


def _worst(tasks: list[TaskView]) -> str:
    statuses = {task.status for task in tasks}
    return next((status for status in ("failed", "retrying", "running") if status in statuses), "succeeded")


def _dag(view: RunView, highlight: str | None) -> str:
    graph = view.graph
    if graph is None:
        return ""
    cells = {step: [TaskCell(task.task_id, task.status) for task in tasks] for step, tasks in view.steps.items()}
    return f'<div class="fk-scroll">{render_dag(graph, highlight=highlight, tasks=cells)}</div>'


def _fragment(title: str, status: str, detail: str, body: str) -> str:
    meta = f' <span class="fk-meta">{html.escape(detail)}</span>' if detail else ""
    return (
        f'<div class="fk-notebook"><style>{_SCOPED_STYLE}</style>'
        f'<h3>{html.escape(title)} <span class="fk-status fk-status-{status}">{html.escape(status)}</span>{meta}</h3>'
        f"{body}</div>"
    )
