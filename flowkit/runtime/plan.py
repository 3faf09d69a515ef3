"""Which tasks exist and when each becomes ready, computed from the step graph and the tasks already committed.

Task identity follows the contract: a task is (step, foreach index path), and its parents are derived from the
graph, so readiness needs no bookkeeping beyond "which tasks succeeded, and how many splits did each foreach make".
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from flowkit.datastore.identity import IndexPath, task_id_for

if TYPE_CHECKING:
    from flowkit.graph import FlowGraph


@dataclass(frozen=True)
class TaskKey:
    """One task of the run being scheduled."""

    step: str
    index_path: IndexPath = ()

    @property
    def task_id(self) -> str:
        return task_id_for(self.index_path)

    def __str__(self) -> str:
        return f"{self.step}/{self.task_id}"


class TaskPlanner:
    """Answers "what can run next?" for one flow graph.

    `num_splits` maps every succeeded task to the number of splits it recorded (None unless it is a foreach task);
    a task is ready once all of its parents succeeded.
    """

    def __init__(self, graph: FlowGraph) -> None:
        self.graph = graph

    def first_tasks(self) -> list[TaskKey]:
        return [TaskKey(self.graph.start_step)]

    def parents(self, task: TaskKey, num_splits: Mapping[TaskKey, int | None]) -> list[TaskKey] | None:
        """The parent tasks of `task`, or None while a foreach join's width is still unknown."""
        node = self.graph.steps[task.step]
        path = task.index_path
        if not node.parents:
            return []
        if node.is_join and node.joins is not None and self._is_foreach(node.joins):
            width = num_splits.get(TaskKey(node.joins, path))
            if width is None:
                return None
            return [TaskKey(node.parents[0], (*path, index)) for index in range(width)]
        if node.is_join:
            return [TaskKey(parent, path) for parent in node.parents]
        parent = node.parents[0]
        if self._is_foreach(parent):
            return [TaskKey(parent, path[:-1])]
        return [TaskKey(parent, path)]

    def children(self, task: TaskKey, splits: int | None) -> list[TaskKey]:
        """The tasks that may become ready now that `task` succeeded (having recorded `splits` splits)."""
        node = self.graph.steps[task.step]
        path = task.index_path
        if node.transition == "foreach":
            if not splits:
                # An empty foreach: nothing runs in the body, so its join is next (with no inputs).
                return [TaskKey(node.matching_join, path)] if node.matching_join else []
            return [TaskKey(node.out[0], (*path, index)) for index in range(splits)]
        children = []
        for name in node.out:
            child = self.graph.steps[name]
            if child.is_exit_handler:
                continue
            if child.is_join and child.joins is not None and self._is_foreach(child.joins):
                children.append(TaskKey(name, path[:-1]))
            else:
                children.append(TaskKey(name, path))
        return children

    def exit_handler(self) -> str | None:
        return next((node.name for node in self.graph.steps.values() if node.is_exit_handler), None)

    def _is_foreach(self, step: str) -> bool:
        return self.graph.steps[step].transition == "foreach"
