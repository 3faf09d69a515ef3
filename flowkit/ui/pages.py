"""The UI's HTML pages, built from `flowkit.ui.runs` views (server-rendered, no JavaScript).

A page of a run that is still going reloads itself every few seconds; a finished one does not.
"""

from __future__ import annotations

import html
import re
from collections.abc import Sequence
from datetime import datetime
from urllib.parse import quote

from flowkit.cards.components import Table, short_repr
from flowkit.cards.dag import STATUS_COLOURS, TaskCell, render_dag
from flowkit.cards.default import artifact_text, format_duration, format_size
from flowkit.cards.page import html_page
from flowkit.cards.storage import StoredCard
from flowkit.datastore import DataStore, TaskRecord
from flowkit.identity import TaskRef
from flowkit.specs.summary import pod_settings
from flowkit.ui.runs import RunView, TaskView
from flowkit.ui.timeline import TimelineBar, render_timeline

REFRESH_SECONDS = 3
_SAFE_SEGMENT = re.compile(r"^[A-Za-z0-9_.-]+$")
_UI_STYLE = """
nav { background: #263238; padding: 10px 24px; color: #cfd8dc; }
nav a { color: #fff; font-weight: bold; } nav span.sep { margin: 0 6px; color: #78909c; }
.fk-legend span { display: inline-block; margin-right: 12px; } .fk-legend i { display: inline-block; width: 10px;
  height: 10px; margin-right: 4px; vertical-align: middle; }
iframe.fk-card { width: 100%; height: 720px; border: 1px solid #cfd8dc; }
"""
_HEAD = f"<style>{_UI_STYLE}</style>"


def flows_page(flows: Sequence[tuple[str, RunView | None, int]]) -> str:
    """Each flow with its number of runs and its latest run."""
    rows = []
    for flow, latest, count in flows:
        latest_cell = _run_link(latest) + " " + _status(latest.status) if latest else "-"
        rows.append([_Html(f'<a href="/flows/{_url(flow)}">{html.escape(flow)}</a>'), count, _Html(latest_cell)])
    body = "<h1>Flows</h1>" + (Table(rows, ["Flow", "Runs", "Latest run"]).render() if rows else "<p>No runs yet.</p>")
    return _layout("flowkit", [], body)


def runs_page(flow: str, runs: Sequence[RunView]) -> str:
    """The flow's runs, newest first: status, start, duration, tags and size."""
    rows = [
        [
            _Html(_run_link(run)),
            _Html(_status(run.status)),
            _time(run.started_at),
            format_duration(run.duration) if run.duration is not None else "-",
            ", ".join(run.tags) or "-",
            len(run.tasks),
        ]
        for run in runs
    ]
    body = (
        f"<h1>{html.escape(flow)}</h1>"
        + Table(rows, ["Run", "Status", "Started", "Duration", "Tags", "Tasks"]).render()
    )
    refresh = any(run.status == "running" for run in runs)
    return _layout(f"{flow} runs", [(flow, None)], body, refresh=refresh)


def run_page(run: RunView, parameters: dict[str, object]) -> str:
    """Summary, the DAG with every task as a linked cell, the timeline of every attempt, and counts per step."""
    base = f"/runs/{_url(run.flow)}/{_url(run.run_id)}"
    cells = {
        step: [TaskCell(task.task_id, task.status, f"{base}/{_url(step)}/{_url(task.task_id)}") for task in tasks]
        for step, tasks in run.steps.items()
    }
    graph = run.graph
    step_links = {step: f"{base}/{_url(step)}/{_url(tasks[0].task_id)}" for step, tasks in run.steps.items() if tasks}
    if graph is not None:
        dag = render_dag(graph, tasks=cells, step_links=step_links, step_titles=_step_titles(run))
    else:
        dag = '<p class="fk-meta">This run\'s record carries no step graph (written by an older flowkit).</p>'
    bars = [
        TimelineBar(
            task.step, task.task_id, record.attempt, record.started_at, record.finished_at, record.succeeded, href
        )
        for task in run.tasks
        for record in task.attempts
        for href in [f"{base}/{_url(task.step)}/{_url(task.task_id)}?attempt={record.attempt}"]
    ]
    summary = Table(
        [
            ["Status", _Html(_status(run.status))],
            ["Started", _time(run.started_at)],
            ["Duration", format_duration(run.duration) if run.duration is not None else "-"],
            ["Tags", ", ".join(run.tags) or "-"],
            [
                "Parameters",
                ", ".join(f"{name}={short_repr(value, limit=80)}" for name, value in parameters.items()) or "-",
            ],
        ]
    ).render()
    counts = [
        [step, len(tasks), *(sum(task.status == s for task in tasks) for s in _STATUSES)]
        for step, tasks in run.steps.items()
    ]
    body = (
        f"<h1>{html.escape(run.flow)}/{html.escape(run.run_id)}</h1>{summary}"
        f'<h2>DAG</h2>{_legend()}<div class="fk-scroll" id="dag">{dag}</div>'
        f'<h2>Timeline</h2><div class="fk-scroll" id="timeline">{render_timeline(bars)}</div>'
        "<h2>Steps</h2>" + Table(counts, ["Step", "Tasks", *_STATUSES]).render()
    )
    return _layout(
        f"{run.flow}/{run.run_id}",
        [(run.flow, f"/flows/{_url(run.flow)}"), (run.run_id, None)],
        body,
        refresh=run.status == "running",
    )


def task_page(
    store: DataStore,
    coords: TaskRef,
    task: TaskView,
    attempt: int | None,
    logs: dict[str, str],
    cards: list[StoredCard],
) -> str:
    """Attempts, then the shown attempt's error, logs, artifacts and cards (the latest attempt unless asked)."""
    flow, run_id = coords.flow, coords.run_id
    base = f"/runs/{_url(flow)}/{_url(run_id)}/{_url(task.step)}/{_url(task.task_id)}"
    record = _attempt(task, attempt)
    attempt_rows = [
        [
            _Html(f'<a href="{base}?attempt={item.attempt}">{item.attempt}</a>'),
            _Html(_status("succeeded" if item.succeeded else "failed")),
            _time(item.started_at),
            format_duration((item.finished_at - item.started_at).total_seconds()),
            f"{item.error.type}: {item.error.message}" if item.error else "",
        ]
        for item in task.attempts
    ]
    parts = [
        f"<h1>{html.escape(task.step)}/{html.escape(task.task_id)} {_status(task.status)}</h1>",
        "<h2>Attempts</h2>"
        + (
            Table(attempt_rows, ["Attempt", "Status", "Started", "Duration", "Error"]).render()
            if attempt_rows
            else "<p>None committed yet.</p>"
        ),
    ]
    shown = record.attempt if record is not None else (attempt or 0)
    if record is not None and record.error is not None:
        error = html.escape(f"{record.error.traceback}{record.error.type}: {record.error.message}")
        parts.append(f'<h2>Error</h2><pre class="fk-error">{error}</pre>')
    for stream, text in logs.items():
        parts.append(f"<h2>{'Standard output' if stream == 'out' else 'Standard error'} (attempt {shown})</h2>")
        parts.append(f'<pre id="log-{stream}">{html.escape(text) or "<i>empty</i>"}</pre>')
    if record is not None and record.artifacts:
        rows = [
            [name, ref.type, format_size(ref.size), artifact_text(store, coords, name, ref)]
            for name, ref in sorted(record.artifacts.items())
        ]
        parts.append("<h2>Artifacts</h2>" + Table(rows, ["Name", "Type", "Size", "Value"]).render())
    shown_cards = [card for card in cards if card.attempt == shown]
    if shown_cards:
        parts.append("<h2>Cards</h2>")
        for card in shown_cards:
            src = f"/cards/{_url(flow)}/{_url(run_id)}/{_url(task.step)}/{_url(task.task_id)}/{_url(card.path.name)}"
            name = html.escape(card.type + (f" ({card.id})" if card.id else ""))
            parts.append(f'<h3><a href="{src}">{name}</a></h3>')
            parts.append(f'<iframe class="fk-card" src="{src}" title="{name}"></iframe>')
    crumbs = [
        (flow, f"/flows/{_url(flow)}"),
        (run_id, f"/runs/{_url(flow)}/{_url(run_id)}"),
        (f"{task.step}/{task.task_id}", None),
    ]
    title = f"{flow}/{run_id}/{task.step}/{task.task_id}"
    return _layout(title, crumbs, "\n".join(parts), refresh=task.status in ("running", "retrying"))


def not_found_page(message: str) -> str:
    return _layout("Not found", [], f"<h1>Not found</h1><p>{html.escape(message)}</p>")


_STATUSES = ("succeeded", "failed", "retrying", "running")


class _Html(str):
    """Markup already escaped, put in a table cell as is (plain strings are escaped by the Table)."""

    def __html__(self) -> str:
        return str(self)


def _step_titles(run: RunView) -> dict[str, str]:
    """Each step's hover text: its name and the pod settings its tasks ran with (from their records)."""
    titles = {}
    for step, tasks in run.steps.items():
        record = next((task.latest for task in tasks if task.latest is not None), None)
        settings = pod_settings(record.spec) if record is not None and record.spec else []
        titles[step] = "\n".join([step, *settings])
    return titles


def _attempt(task: TaskView, attempt: int | None) -> TaskRecord | None:
    if attempt is None:
        return task.latest
    return next((record for record in task.attempts if record.attempt == attempt), None)


def _layout(title: str, crumbs: list[tuple[str, str | None]], body: str, *, refresh: bool = False) -> str:
    trail = "".join(
        '<span class="sep">/</span>' + (f'<a href="{link}">{html.escape(text)}</a>' if link else html.escape(text))
        for text, link in crumbs
    )
    nav = f'<nav><a href="/">flowkit</a>{trail}</nav>'
    return html_page(
        title, body, refresh_seconds=REFRESH_SECONDS if refresh else None, extra_head=_HEAD, before_main=nav
    )


def _legend() -> str:
    items = "".join(
        f'<span><i style="background:{colour}"></i>{status}</span>' for status, colour in STATUS_COLOURS.items()
    )
    return f'<div class="fk-legend">{items}</div>'


def _run_link(run: RunView) -> str:
    return f'<a href="/runs/{_url(run.flow)}/{_url(run.run_id)}">{html.escape(run.run_id)}</a>'


def _status(status: str) -> str:
    return f'<span class="fk-status fk-status-{status}">{html.escape(status)}</span>'


def _time(value: datetime | None) -> str:
    return value.isoformat(sep=" ", timespec="seconds") if value else "-"


def _url(part: str) -> str:
    """One path segment of a link (step names and task ids are already safe, and a run page links thousands)."""
    return part if _SAFE_SEGMENT.match(part) else quote(part, safe="")
