"""What the web UI shows, read from the datastore: flows, runs and their status, tasks and their attempts.

A task that succeeded, or failed on its last allowed attempt, never changes again, so its view is read once and
kept: refreshing the page of a 5,000-task run lists each step's directory and re-reads only unfinished tasks. A
task's attempts are found by opening ``0.json``, ``1.json``, ... until one is missing or final, which for the usual
task is one file read and no directory listing.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from flowkit.datastore import DataStore, RunRecord, TaskRecord
from flowkit.datastore.tags import RunTags
from flowkit.graph.model import FlowGraph

_CACHE_LIMIT = 500_000
"""Finished tasks kept in memory (about a kilobyte each); past it the cache starts over rather than grow forever."""


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
    tags: list[str] = field(default_factory=list)
    """User tags (with later changes applied), then system tags."""

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


class RunReader:
    """Reads one datastore root; safe to share between the server's threads (the cache is only ever added to)."""

    def __init__(self, root: str | Path | None) -> None:
        self.store = DataStore(root)
        self._finished: dict[str, TaskView] = {}

    def flows(self) -> list[str]:
        return self.store.list_flows()

    def run_ids(self, flow: str) -> list[str]:
        return self.store.list_runs(flow)

    def run(self, flow: str, run_id: str) -> RunView:
        """The run with every task's attempts, steps in the graph's order when the run recorded its graph."""
        record = self.store.read_run(flow, run_id)
        user_tags = RunTags(self.store.run_dir(flow, run_id)).user_tags(record)
        view = RunView(flow, run_id, record, tags=[*sorted(user_tags), *(record.system_tags if record else [])])
        graph = view.graph
        order = {step: number for number, step in enumerate(graph.steps)} if graph is not None else {}
        for step in sorted(self.store.list_steps(flow, run_id), key=lambda name: order.get(name, len(order))):
            step_dir = os.fspath(self.store.step_dir(flow, run_id, step))
            task_ids = self.store.list_task_ids(flow, run_id, step)
            view.steps[step] = [self._task(step_dir, step, task_id) for task_id in task_ids]
        return view

    def task(self, flow: str, run_id: str, step: str, task_id: str) -> TaskView:
        if not task_id.replace(".", "").isdigit():
            raise ValueError(f"{task_id!r} is not a task id")
        return self._task(os.fspath(self.store.step_dir(flow, run_id, step)), step, task_id)

    def parameters(self, view: RunView) -> dict[str, object]:
        return {name: json.loads(text) for name, text in (view.record.parameters if view.record else {}).items()}

    def _task(self, step_dir: str, step: str, task_id: str) -> TaskView:
        task_dir = os.path.join(step_dir, task_id)
        finished = self._finished.get(task_dir)
        if finished is not None:
            return finished
        view = TaskView(step, task_id, _attempts(task_dir))
        if view.status in ("succeeded", "failed"):
            if len(self._finished) >= _CACHE_LIMIT:
                self._finished.clear()
            self._finished[task_dir] = view
        return view


def _attempts(task_dir: str) -> list[TaskRecord]:
    """The task's committed attempts, oldest first: read in order until one is missing or ends the task."""
    attempts: list[TaskRecord] = []
    while True:
        record = _read_record(os.path.join(task_dir, f"{len(attempts)}.json"))
        if record is None:
            break
        attempts.append(record)
        if TaskView("", "", attempts).status in ("succeeded", "failed"):
            return attempts
    if attempts:
        return attempts
    try:  # no attempt 0: a record written out of order (rare), or none at all yet
        names = os.listdir(task_dir)
    except FileNotFoundError:
        return []
    numbers = sorted(int(name[:-5]) for name in names if name.endswith(".json") and name[:-5].isdigit())
    return [record for number in numbers if (record := _read_record(os.path.join(task_dir, f"{number}.json")))]


def _read_record(path: str) -> TaskRecord | None:
    try:
        with open(path, "rb") as file:
            return TaskRecord.from_json(file.read())
    except FileNotFoundError:
        return None
