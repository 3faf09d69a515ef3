"""Resume: a new run that reuses the committed tasks of an earlier run up to where it failed.

Like Metaflow's resume, the steps to re-run are the failed steps (or the one the user names) and everything
downstream of them; every other task that succeeded in the origin run is cloned into the new run (a new commit
record pointing at the same blobs), and whatever the origin never reached simply runs.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from flowkit.datastore import DataStore, TaskCoordinates, TaskRecord, index_path_of_task_id
from flowkit.errors import FlowkitError
from flowkit.runtime.plan import TaskKey

if TYPE_CHECKING:
    from flowkit.graph import FlowGraph


@dataclass(frozen=True)
class ResumeFrom:
    """What to resume: `origin_run_id` (default: the flow's latest run) from `step` (default: its failed steps)."""

    origin_run_id: str | None = None
    step: str | None = None


@dataclass(frozen=True)
class ResumePlan:
    """The origin run, its parameters (JSON text, reused unchanged), and the steps that must run again."""

    flow: str
    origin_run_id: str
    parameters: dict[str, str]
    rerun_steps: frozenset[str]

    def clone_if_reusable(self, store: DataStore, task: TaskKey, *, run_id: str) -> TaskRecord | None:
        """Clone `task` from the origin into `run_id` if its step need not re-run and it succeeded there."""
        if task.step in self.rerun_steps:
            return None
        record = store.latest_record(TaskCoordinates(self.flow, self.origin_run_id, task.step, task.index_path))
        if record is None or not record.succeeded:
            return None
        return store.clone_task(record, run_id)


def plan_resume(store: DataStore, graph: FlowGraph, request: ResumeFrom) -> ResumePlan:
    """Work out what a resume of `request` reuses; errors name the flow, the run and the step."""
    flow = graph.flow_name
    origin = request.origin_run_id or _latest_run(store, flow)
    run_record = store.read_run(flow, origin)
    if run_record is None:
        raise FlowkitError(f"{flow}: run {origin!r} not found in {store.root} (or its start task never committed)")
    if request.step is not None:
        if request.step not in graph.steps:
            raise FlowkitError(f"{flow}: cannot resume from {request.step!r}: the flow has no such step")
        starting_steps = {request.step}
    else:
        starting_steps = _failed_steps(store, graph, origin)
    rerun = set(starting_steps)
    for step in starting_steps:
        rerun |= graph.descendants(step)
    return ResumePlan(flow, origin, dict(run_record.parameters), frozenset(rerun))


def _latest_run(store: DataStore, flow: str) -> str:
    runs = store.list_runs(flow)
    if not runs:
        raise FlowkitError(f"{flow}: no earlier run to resume in {store.root}")
    return runs[0]


def _failed_steps(store: DataStore, graph: FlowGraph, run_id: str) -> set[str]:
    """Steps with a task whose latest attempt failed (a run killed mid-way may have none: it then just continues)."""
    failed = set()
    for step in graph.steps:
        for task_id in store.list_task_ids(graph.flow_name, run_id, step):
            coords = TaskCoordinates(graph.flow_name, run_id, step, index_path_of_task_id(task_id))
            record = store.latest_record(coords)
            if record is not None and not record.succeeded:
                failed.add(step)
                break
    return failed
