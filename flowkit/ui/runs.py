"""What the web UI shows, read from the datastore: flows, runs and their status, tasks and their attempts.

Committed records never change once written, so each is parsed once and kept: refreshing the page of a running
5,000-task run costs a directory listing per task plus the records committed since the last look.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from flowkit.datastore import DataStore, RunRecord, TaskCoordinates, TaskRecord, index_path_of_task_id
from flowkit.graph.model import FlowGraph

_CACHE_LIMIT = 500_000
"""Records kept in memory (a few hundred bytes each); past it the cache starts over rather than grow without end."""


@dataclass
class TaskView:
    """A task and all of its committed attempts, oldest first."""

    step: str
    task_id: str
    attempts: list[TaskRecord]

    @property
    def latest(self) -> TaskRecord | None:
        return self.attempts[-1] if self.attempts else None

    @property
    def status(self) -> str:
        """succeeded, failed (on its last allowed attempt), retrying (an attempt failed, another is due) or running."""
        latest = self.latest
        if latest is None:
            return "running"
        if latest.succeeded:
            return "succeeded"
        retries = ((latest.spec or {}).get("retry") or {}).get("times", 0)
        return "failed" if latest.attempt >= retries else "retrying"


@dataclass
class RunView:
    flow: str
    run_id: str
    record: RunRecord | None
    steps: dict[str, list[TaskView]] = field(default_factory=dict)

    @property
    def graph(self) -> FlowGraph | None:
        """The step graph the start task recorded (None for runs written before run records carried it)."""
        if self.record is None or self.record.graph is None:
            return None
        return FlowGraph.from_dict(self.record.graph)

    @property
    def tasks(self) -> list[TaskView]:
        return [task for tasks in self.steps.values() for task in tasks]

    @property
    def status(self) -> str:
        end = self.steps.get("end", [])
        if end and end[0].status == "succeeded":
            return "succeeded"
        return "failed" if any(task.status == "failed" for task in self.tasks) else "running"

    @property
    def started_at(self) -> datetime | None:
        starts = [record.started_at for task in self.tasks for record in task.attempts]
        return min(starts, default=self.record.created_at if self.record else None)

    @property
    def finished_at(self) -> datetime | None:
        return max((record.finished_at for task in self.tasks for record in task.attempts), default=None)

    @property
    def duration(self) -> float | None:
        start, end = self.started_at, self.finished_at
        return (end - start).total_seconds() if start and end else None

    @property
    def tags(self) -> list[str]:
        return list(getattr(self.record, "tags", None) or [])


class RunReader:
    """Reads one datastore root; safe to share between the server's threads (the cache is only ever added to)."""

    def __init__(self, root: str | Path | None) -> None:
        self.store = DataStore(root)
        self._records: dict[Path, TaskRecord] = {}

    def flows(self) -> list[str]:
        return self.store.list_flows()

    def run_ids(self, flow: str) -> list[str]:
        return self.store.list_runs(flow)

    def run(self, flow: str, run_id: str) -> RunView:
        """The run with every task's attempts (records come from the cache after the first read)."""
        view = RunView(flow, run_id, self.store.read_run(flow, run_id))
        listed = self.store.list_steps(flow, run_id)
        graph = view.graph
        order = {step: number for number, step in enumerate(graph.steps)} if graph is not None else {}
        for step in sorted(listed, key=lambda name: order.get(name, len(order))):  # the graph's order, when known
            task_ids = self.store.list_task_ids(flow, run_id, step)
            view.steps[step] = [self.task(flow, run_id, step, task_id) for task_id in task_ids]
        return view

    def task(self, flow: str, run_id: str, step: str, task_id: str) -> TaskView:
        coords = TaskCoordinates(flow, run_id, step, index_path_of_task_id(task_id))
        attempts = [self._record(coords, attempt) for attempt in self.store.list_attempts(coords)]
        return TaskView(step, task_id, [record for record in attempts if record is not None])

    def parameters(self, view: RunView) -> dict[str, object]:
        return {name: json.loads(text) for name, text in (view.record.parameters if view.record else {}).items()}

    def _record(self, coords: TaskCoordinates, attempt: int) -> TaskRecord | None:
        path = self.store.record_path(coords, attempt)
        record = self._records.get(path)
        if record is None:
            record = self.store.committed_record(coords, attempt)
            if record is not None:
                if len(self._records) >= _CACHE_LIMIT:
                    self._records.clear()
                self._records[path] = record
        return record
