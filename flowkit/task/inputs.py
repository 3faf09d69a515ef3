"""What a task starts from: its parent tasks, the artifacts it inherits, its foreach frame and a join's `inputs`.

Parents are derived from the task's coordinates and the graph alone (see the task-identity contract), so a task in
a pod finds its inputs in the datastore exactly as a locally forked one does; a join over a 10,000-way foreach
lists its inputs from the foreach step's recorded ``num_splits``.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from functools import partial
from typing import TYPE_CHECKING, Any

from flowkit.datastore import ArtifactRef, DataStore, ForeachFrame, TaskRecord
from flowkit.identity import TaskRef
from flowkit.plain_data import PlainData, field

if TYPE_CHECKING:
    from flowkit.graph import FlowGraph


def parent_tasks(graph: FlowGraph, task: TaskRef, store: DataStore) -> list[TaskRef]:
    """The tasks whose committed records this task reads, in the order a join's ``inputs`` lists them."""
    parents = task.parents(
        graph, lambda foreach_task: store.successful_record(foreach_task).num_splits or 0, partial(_succeeded, store)
    )
    assert parents is not None  # the split count above is never unknown: a missing record raises instead
    return parents


def _succeeded(store: DataStore, task: TaskRef) -> bool:
    """Whether ``task`` committed a successful attempt: of a switch's branches, the one that ran."""
    record = store.latest_record(task)
    return record is not None and record.succeeded


class ParentTask:
    """One input of a join: its artifacts as attributes (``inp.score``), loaded on first access."""

    def __init__(self, store: DataStore, record: TaskRecord) -> None:
        self._store = store
        self._record = record

    @property
    def _flowkit_record(self) -> TaskRecord:
        return self._record

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        ref = self._record.artifacts.get(name)
        if ref is None:
            raise AttributeError(
                f"{self._record.flow}.{self._record.step} task {self._record.task_id} has no artifact {name!r}"
            )
        value = self._store.load_artifact(ref, artifact=name, task=self._record.coordinates)
        self.__dict__[name] = value
        return value

    def __repr__(self) -> str:
        return f"<input {self._record.step}/{self._record.task_id}>"


class JoinInputs:
    """A join step's ``inputs``: iterate the parent tasks, or reach a static branch by step name (``inputs.a``)."""

    def __init__(self, parents: list[ParentTask]) -> None:
        self._parents = parents

    def __iter__(self) -> Iterator[ParentTask]:
        return iter(self._parents)

    def __len__(self) -> int:
        return len(self._parents)

    def __getitem__(self, position: int) -> ParentTask:
        return self._parents[position]

    def __getattr__(self, step: str) -> ParentTask:
        if step.startswith("_"):
            raise AttributeError(step)
        matches = [parent for parent in self._parents if parent._flowkit_record.step == step]
        if len(matches) != 1:
            steps = sorted({parent._flowkit_record.step for parent in self._parents})
            raise AttributeError(f"inputs.{step}: the join's inputs come from steps {steps} (one task each needed)")
        return matches[0]

    @property
    def _flowkit_records(self) -> list[TaskRecord]:
        return [parent._flowkit_record for parent in self._parents]


class TaskInputs(PlainData):
    """Everything a task inherits before its step runs."""

    artifacts: dict[str, ArtifactRef] = field(default_factory=dict)
    foreach: ForeachFrame | None = None
    join: JoinInputs | None = None


def gather_inputs(
    graph: FlowGraph, coords: TaskRef, store: DataStore, parameter_names: Iterable[str] = ()
) -> TaskInputs:
    """Read the parents' records: a single parent passes everything on; a join starts from the parameters alone.

    As in Metaflow, a join inherits nothing else: an artifact reaches it, and the steps after it, only through
    ``merge_artifacts`` or an explicit assignment, even when every input holds the same value.
    """
    node = graph.steps[coords.step]
    records = [store.successful_record(parent) for parent in parent_tasks(graph, coords, store)]
    if not records:
        return TaskInputs()
    if not node.is_join:
        parent = records[0]
        frame = parent.foreach
        split = graph.steps[parent.step]
        if split.transition == "foreach" and split.foreach_var is not None:
            frame = ForeachFrame(step=split.name, var=split.foreach_var, index=coords.index_path[-1])
        return TaskInputs(artifacts=dict(parent.artifacts), foreach=frame)
    closes = graph.steps[node.joins] if node.joins is not None else None
    frame = records[0].foreach
    if closes is not None and closes.transition == "foreach":
        frame = store.successful_record(coords.sibling(closes.name, coords.index_path)).foreach
    parameters = records[0].artifacts  # read-only, so every input holds the same values
    return TaskInputs(
        artifacts={name: parameters[name] for name in parameter_names if name in parameters},
        foreach=frame,
        join=JoinInputs([ParentTask(store, record) for record in records]),
    )


def agreed_artifacts(records: list[TaskRecord]) -> dict[str, ArtifactRef]:
    """Artifacts with one value (sha256) across the ``records`` that hold them."""
    candidates: dict[str, ArtifactRef | None] = {}
    for record in records:
        for name, ref in record.artifacts.items():
            known = candidates.get(name, ref)
            candidates[name] = ref if known is not None and known.sha256 == ref.sha256 else None
    return {name: ref for name, ref in candidates.items() if ref is not None}
