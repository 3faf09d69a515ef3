"""Task identity: which task is which, and which tasks come before and after it.

A task is (flow, run id, step, foreach index path). Its id is derived from the index path, never allocated, and its
parents and children are derived from the step graph, so every scheduler (the local runtime, an Argo pod, a test
driver) names the same tasks and a join finds its inputs in the datastore without being handed a list. This module
is the only place that states those rules.

Standard library only, and no flowkit import at run time: the datastore, the task executor and both schedulers
build on it, and a pod imports it before anything else of flowkit.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from typing import NamedTuple, Protocol

IndexPath = tuple[int, ...]
"""One foreach position per enclosing foreach frame, outermost first."""
_TASK_ID = re.compile(r"0(\.[0-9]+)*")
_UNSAFE_CHARACTERS = frozenset("/\\\0")


class _Node(Protocol):
    """What the rules read of a step (`flowkit.graph.StepNode` satisfies it)."""

    @property
    def transition(self) -> str: ...
    @property
    def out(self) -> Sequence[str]: ...
    @property
    def parents(self) -> Sequence[str]: ...
    @property
    def is_join(self) -> bool: ...
    @property
    def joins(self) -> str | None: ...
    @property
    def matching_join(self) -> str | None: ...
    @property
    def is_exit_handler(self) -> bool: ...
    @property
    def parent_groups(self) -> Sequence[Sequence[str]]: ...


class StepGraph(Protocol):
    """What the rules read of a flow graph (`flowkit.graph.FlowGraph` satisfies it)."""

    @property
    def steps(self) -> Mapping[str, _Node]: ...


def checked_name(what: str, value: object) -> str:
    """``value`` if it can name one directory of the datastore (a flow, run id or step), else a clear error.

    A name is one path component: ``..``, a separator or a leading dot would reach outside the run it names, or
    into the temporary files readers skip (``Run("../..")`` must not list the datastore's parent as steps).
    """
    if not isinstance(value, str):
        raise TypeError(f"{what} must be a string, got {type(value).__name__} {value!r}")
    if not value or value.startswith(".") or not _UNSAFE_CHARACTERS.isdisjoint(value):
        raise ValueError(
            f"{what} {value!r} is not a valid name: it must be non-empty, not start with '.', "
            "and contain no '/', '\\' or NUL"
        )
    return value


def checked_task_id(value: object) -> str:
    """``value`` if it is a task id (``"0"``, ``"0.3.1"``), else a clear error."""
    if not isinstance(value, str):
        raise TypeError(f"task id must be a string, got {type(value).__name__} {value!r}")
    if not _TASK_ID.fullmatch(value):
        raise ValueError(f"task id {value!r} is not valid: task ids look like '0', '0.3' or '0.3.1'")
    return value


def parse_index_path(text: str) -> IndexPath:
    """Parse the dot-joined text form (``"3.1"``; ``""`` for none; empty parts ignored, so ``".3"`` == ``"3"``)."""
    try:
        return tuple(int(part) for part in text.split(".") if part != "")
    except ValueError:
        raise ValueError(f"index path {text!r} must be dot-separated integers such as '3.1'") from None


def format_index_path(path: IndexPath) -> str:
    """The dot-joined text form of an index path."""
    return ".".join(str(index) for index in path)


def task_id_for(path: IndexPath) -> str:
    """``"0"`` for a task outside any foreach, ``"0.3.1"`` for position 1 of position 3."""
    return "0" + "".join(f".{index}" for index in path)


def index_path_of_task_id(task_id: str) -> IndexPath:
    """Invert :func:`task_id_for`."""
    return parse_index_path(task_id[1:]) if task_id.startswith("0") else parse_index_path(task_id)


SplitCount = Callable[["TaskRef"], "int | None"]
"""How many splits a foreach task recorded; None while it has not (yet) succeeded."""


class TaskRef(NamedTuple):
    """Names one task; the same value is computed by every scheduler and reader.

    A NamedTuple (immutable, hashable, compared by value) rather than a dataclass: a pod imports this before
    anything else of flowkit, and ``dataclasses`` with the ``inspect`` it loads would cost its start some 10 ms.
    """

    flow: str
    run_id: str
    step: str
    index_path: IndexPath = ()

    @classmethod
    def from_task_id(cls, flow: str, run_id: str, step: str, task_id: str) -> TaskRef:
        return cls(flow, run_id, step, index_path_of_task_id(task_id))

    @property
    def task_id(self) -> str:
        return task_id_for(self.index_path)

    @property
    def label(self) -> str:
        """``step/task_id``: the task's name within its run, as run output and messages show it."""
        return f"{self.step}/{self.task_id}"

    def __str__(self) -> str:
        return f"{self.flow}/{self.run_id}/{self.step}/{self.task_id}"

    def sibling(self, step: str, index_path: IndexPath) -> TaskRef:
        """Another task of the same run."""
        return TaskRef(self.flow, self.run_id, step, index_path)

    def in_run(self, run_id: str) -> TaskRef:
        """The same task in another run (what resume clones)."""
        return self._replace(run_id=run_id)

    def parent_groups(self, graph: StepGraph, split_count: SplitCount) -> list[list[TaskRef]] | None:
        """The tasks whose records this task may read, grouped so that exactly one task of each group runs.

        Start has none; a step after a foreach step F has (F, path[:-1]); any other non-join step has (P, path);
        a join closing a static split has (P, path) for each parent P; a join closing foreach F has
        (P, path + (i,)) for i in range(splits recorded by (F, path)). None while that count is unknown. The
        parents a switch's branches end in share a group: only the branch the switch took has a task.
        """
        node = graph.steps[self.step]
        path = self.index_path
        if node.is_join and node.joins is not None and graph.steps[node.joins].transition == "foreach":
            width = split_count(self.sibling(node.joins, path))
            if width is None:
                return None
            (group,) = node.parent_groups  # a foreach has one branch (its ends may be a switch's)
            return [[self.sibling(parent, (*path, index)) for parent in group] for index in range(width)]
        return [[self._parent(graph, parent) for parent in group] for group in node.parent_groups]

    def parents(
        self, graph: StepGraph, split_count: SplitCount, ran: Callable[[TaskRef], bool] | None = None
    ) -> list[TaskRef] | None:
        """The tasks whose records this task reads, in the order a join's ``inputs`` lists them: of each of
        :meth:`parent_groups`, its only task, or the one ``ran`` says ran (the switch's branch taken)."""
        groups = self.parent_groups(graph, split_count)
        if groups is None:
            return None
        return [
            group[0] if len(group) == 1 else next((t for t in group if ran and ran(t)), group[0]) for group in groups
        ]

    def _parent(self, graph: StepGraph, step: str) -> TaskRef:
        """The task of ``step`` this (non-foreach-join) task follows: one frame up after a foreach step."""
        return self.sibling(
            step, self.index_path[:-1] if graph.steps[step].transition == "foreach" else self.index_path
        )

    def children(self, graph: StepGraph, num_splits: int | None, chosen: str | None = None) -> list[TaskRef]:
        """The tasks that may become ready once this one succeeded, having recorded ``num_splits`` splits (or, for
        a switch, ``chosen``: the branch it took, the only child that runs).

        The exit handler is no task's child: a scheduler starts it after the run.
        """
        node = graph.steps[self.step]
        path = self.index_path
        if node.transition == "switch":
            return [self.sibling(chosen, path)] if chosen is not None else []
        if node.transition == "foreach":
            if not num_splits:
                # An empty foreach: nothing runs in the body, so its join is next (with no inputs).
                return [self.sibling(node.matching_join, path)] if node.matching_join else []
            return [self.sibling(node.out[0], (*path, index)) for index in range(num_splits)]
        children = []
        for name in node.out:
            child = graph.steps[name]
            if child.is_exit_handler:
                continue
            closes_foreach = (
                child.is_join and child.joins is not None and graph.steps[child.joins].transition == "foreach"
            )
            children.append(self.sibling(name, path[:-1] if closes_foreach else path))
        return children

    def enclosing_foreach_task(self, foreach_step: str) -> TaskRef:
        """The task of ``foreach_step`` that made this task's innermost foreach split."""
        return self.sibling(foreach_step, self.index_path[:-1])
