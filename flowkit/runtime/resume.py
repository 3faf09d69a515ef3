"""Resume: a new run that reuses every task of an earlier run that would compute the same thing again.

A task of the origin run is reused (cloned into the new run: a new commit record pointing at the same blobs) when
it succeeded there, its step's `code_hash` (the step's code and the names of its parent steps) is the one the flow
has now, and every one of its parent tasks was reused too, so its inputs are the origin's; parameters are the
origin's by construction. Everything else runs: the failed tasks (and only those of a foreach whose siblings
succeeded), the steps edited since, the steps whose parents changed (a step added or removed before them), the
step the user names and all that follows it, and whatever the origin never reached. The decisions are tallied per
step and reason, so the run can say what it reused and why it ran the rest.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from flowkit.datastore import DataStore, TaskRecord
from flowkit.errors import FlowkitError
from flowkit.identity import TaskRef

if TYPE_CHECKING:
    from flowkit.graph import FlowGraph

REUSED = "unchanged: same step code, inputs and parameters"
FAILED_IN_ORIGIN = "failed in the origin run"
NOT_IN_ORIGIN = "not run in the origin run"
CODE_CHANGED = "the step's code or the steps before it changed since the origin run"
INPUT_RERUNS = "an input task runs again"
RESUMED_FROM = "at or after the step resume was asked to start from"


@dataclass(frozen=True)
class ResumeFrom:
    """What to resume: `origin_run_id` (default: the flow's latest run) from `step` (default: what must re-run)."""

    origin_run_id: str | None = None
    step: str | None = None


@dataclass
class ResumePlan:
    """The origin run, its parameters (JSON text, reused unchanged), and the reuse decision for each task."""

    flow: str
    origin_run_id: str
    parameters: dict[str, str]
    forced_steps: frozenset[str]
    """The step named by ``resume STEP`` and its descendants: run whatever the origin holds for them."""
    code_hashes: dict[str, str]
    reused: set[TaskRef] = field(default_factory=set)
    decisions: Counter[tuple[str, str]] = field(default_factory=Counter)
    """(step, reason) -> number of tasks decided so."""

    def reuse_into(self, store: DataStore, run_id: str) -> TaskReuse:
        """What the scheduler asks, as each task becomes ready, whether the task is reused in run `run_id`."""
        return TaskReuse(self, store, run_id)

    def decide(self, store: DataStore, task: TaskRef, parents: list[TaskRef]) -> TaskRecord | None:
        """The origin's record of `task` if the task would compute the same again (it is then reused), else None."""
        reason, record = self._decide(store, task, parents)
        self.decisions[(task.step, reason)] += 1
        if record is not None:
            self.reused.add(task)
        return record

    def _decide(self, store: DataStore, task: TaskRef, parents: list[TaskRef]) -> tuple[str, TaskRecord | None]:
        if task.step in self.forced_steps:
            return RESUMED_FROM, None
        if any(parent not in self.reused for parent in parents):
            return INPUT_RERUNS, None
        record = store.latest_record(task.in_run(self.origin_run_id))
        if record is None:
            return NOT_IN_ORIGIN, None
        if not record.succeeded:
            return FAILED_IN_ORIGIN, None
        if record.code_hash != self.code_hashes[task.step]:
            return CODE_CHANGED, None
        return REUSED, record

    def summary(self) -> str:
        """What was reused and why the rest ran, one line per step (steps in graph order)."""
        lines = [f"Resume of {self.origin_run_id}: reused {len(self.reused)} task(s) ({REUSED}); per step:"]
        for step in self.code_hashes:
            counts = [(reason, count) for (name, reason), count in self.decisions.items() if name == step]
            if counts:
                described = "; ".join(
                    f"{count} reused" if reason == REUSED else f"{count} run ({reason})" for reason, count in counts
                )
                lines.append(f"  {step}: {described}")
        return "\n".join(lines)


@dataclass
class TaskReuse:
    """The scheduler's side of a resume: asked about each task as it becomes ready (parents first), it tells which
    the plan reuses, then clones those into the new run."""

    plan: ResumePlan
    store: DataStore
    run_id: str

    def decide(self, task: TaskRef, parents: list[TaskRef]) -> TaskRecord | None:
        """The origin's record of `task` if it is reused (to be cloned), else None (the task runs)."""
        return self.plan.decide(self.store, task, parents)

    def clone(self, origins: list[TaskRecord]) -> list[TaskRecord]:
        """Clone the reused tasks of `origins` (records `decide` returned) into the new run: their records there."""
        return self.store.clone_tasks(origins, self.run_id)


def plan_resume(store: DataStore, graph: FlowGraph, request: ResumeFrom) -> ResumePlan:
    """Work out what a resume of `request` may reuse; errors name the flow, the run and the step."""
    flow = graph.flow_name
    origin = request.origin_run_id or latest_recorded_run(store, flow)
    run_record = store.read_run(flow, origin)
    if run_record is None:
        raise FlowkitError(f"{flow}: run {origin!r} not found in {store.root} (or its start task never committed)")
    forced: set[str] = set()
    if request.step is not None:
        if request.step not in graph.steps:
            raise FlowkitError(f"{flow}: cannot resume from {request.step!r}: the flow has no such step")
        forced = {request.step} | graph.descendants(request.step)
    return ResumePlan(
        flow=flow,
        origin_run_id=origin,
        parameters=dict(run_record.parameters),
        forced_steps=frozenset(forced),
        code_hashes={name: node.code_hash for name, node in graph.steps.items()},
    )


def latest_recorded_run(store: DataStore, flow: str) -> str:
    """The newest run of ``flow`` that recorded itself (its run.json exists), the default origin of a resume.

    A local run creates its directory before anything else, so a run killed before its start task committed is
    still seen: when such runs are newer than the latest recorded one, which run the user means is ambiguous, and
    the error asks for ``--origin-run-id`` rather than silently resuming an older run.
    """
    unrecorded: list[str] = []
    for run_id in store.list_runs(flow):  # newest first
        if store.read_run(flow, run_id) is None:
            unrecorded.append(run_id)
            continue
        if unrecorded:
            raise FlowkitError(
                f"{flow}: the latest run{'s' if len(unrecorded) > 1 else ''} {', '.join(unrecorded)} never recorded "
                f"itself (stopped before its start task committed), and the latest run that did is {run_id}; "
                f"say which to resume with --origin-run-id (e.g. --origin-run-id {run_id})"
            )
        return run_id
    if unrecorded:
        raise FlowkitError(
            f"{flow}: no run recorded itself in {store.root} ({', '.join(unrecorded)} stopped before their start "
            "task committed); there is nothing to resume, run the flow again"
        )
    raise FlowkitError(f"{flow}: no earlier run to resume in {store.root}")
