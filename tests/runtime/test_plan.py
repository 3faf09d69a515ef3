"""Task readiness from the graph: parents per the contract's task-identity rules, foreach widths, empty foreach."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

from flowkit.identity import IndexPath, TaskRef


@dataclass
class Node:
    name: str
    transition: str
    out: list[str]
    parents: list[str] = field(default_factory=list)
    is_join: bool = False
    joins: str | None = None
    matching_join: str | None = None
    is_exit_handler: bool = False
    groups: list[list[str]] | None = None
    """`parent_groups` when a switch's branches end here; else every parent is a group of its own."""

    @property
    def parent_groups(self) -> list[list[str]]:
        return self.groups if self.groups is not None else [[parent] for parent in self.parents]


@dataclass
class Graph:
    steps: dict[str, Node]


def nested_foreach_graph() -> Graph:
    """start -(foreach)-> outer -(foreach)-> inner -> inner_join -> outer_join -> branch(a, b) -> join -> end."""
    nodes = [
        Node("start", "foreach", ["outer"], matching_join="outer_join"),
        Node("outer", "foreach", ["inner"], ["start"], matching_join="inner_join"),
        Node("inner", "linear", ["inner_join"], ["outer"]),
        Node("inner_join", "linear", ["outer_join"], ["inner"], is_join=True, joins="outer"),
        Node("outer_join", "split", ["a", "b"], ["inner_join"], is_join=True, joins="start", matching_join="join"),
        Node("a", "linear", ["join"], ["outer_join"]),
        Node("b", "linear", ["join"], ["outer_join"]),
        Node("join", "linear", ["end"], ["a", "b"], is_join=True, joins="outer_join"),
        Node("end", "end", [], ["join"]),
        Node("on_exit", "end", [], [], is_exit_handler=True),
    ]
    return Graph({node.name: node for node in nodes})


def T(step: str, index_path: IndexPath = ()) -> TaskRef:
    """A task of one run of the test graph."""
    return TaskRef("NestedFlow", "r1", step, index_path)


def test_foreach_children_get_one_index_per_split_and_nested_paths_extend() -> None:
    graph: Any = nested_foreach_graph()
    assert T("start").children(graph, 2) == [T("outer", (0,)), T("outer", (1,))]
    assert T("outer", (1,)).children(graph, 3) == [T("inner", (1, i)) for i in range(3)]
    assert T("inner", (1, 2)).children(graph, None) == [T("inner_join", (1,))]
    assert T("inner_join", (1,)).children(graph, None) == [T("outer_join", ())]


def test_foreach_join_waits_for_every_split_of_its_own_foreach_task() -> None:
    graph: Any = nested_foreach_graph()
    done: dict[TaskRef, int | None] = {T("start"): 2, T("outer", (0,)): 2}
    join = T("inner_join", (0,))
    assert join.parents(graph, done.get) == [T("inner", (0, 0)), T("inner", (0, 1))]
    assert T("inner_join", (1,)).parents(graph, done.get) is None  # outer/0.1 has not recorded its width yet


def test_static_join_needs_every_branch_and_body_step_follows_its_foreach_task() -> None:
    graph: Any = nested_foreach_graph()
    assert T("join").parents(graph, {}.get) == [T("a"), T("b")]
    assert T("outer", (1,)).parents(graph, {}.get) == [T("start")]
    assert T("inner", (1, 0)).parents(graph, {}.get) == [T("outer", (1,))]


def test_empty_foreach_goes_straight_to_its_join() -> None:
    graph: Any = nested_foreach_graph()
    assert T("outer", (0,)).children(graph, 0) == [T("inner_join", (0,))]
    assert T("inner_join", (0,)).parents(graph, {T("outer", (0,)): 0}.get) == []


def test_exit_handler_is_not_scheduled_by_the_graph_walk() -> None:
    graph: Any = nested_foreach_graph()
    assert T("end").children(graph, None) == []
    assert T("start").task_id == "0" and T("inner", (1, 2)).task_id == "0.1.2"


def test_scheduler_releases_a_join_only_when_its_last_parent_succeeds() -> None:
    from flowkit.runtime.output import Progress
    from flowkit.runtime.scheduler import Scheduler

    graph: Any = nested_foreach_graph()
    # Only the bookkeeping is exercised: nothing is launched, so no launcher or console is needed.
    scheduler = Scheduler(graph, None, None, Progress(), max_workers=1)  # type: ignore[arg-type]
    succeeded = scheduler.outcome.succeeded
    succeeded.update({T("start"): 1, T("outer", (0,)): 3})
    join = T("inner_join", (0,))
    for index in range(3):
        succeeded[T("inner", (0, index))] = None
        scheduler._offer([join])
        assert (join in scheduler.ready) == (index == 2)
    scheduler._offer([join])
    assert list(scheduler.ready) == [join], "a task is queued once, however often it is offered"


class _Cloned:
    num_splits = None
    next_step = None


@dataclass
class _RecordingReuse:
    """A resume's reuse as the scheduler sees it: decides `reusable` tasks are reused, and notes every call."""

    reusable: set[TaskRef]
    events: list[tuple[str, Any]]

    def decide(self, task: TaskRef, parents: list[TaskRef]) -> Any:
        assert parents == [T("outer", (0,))]
        self.events.append(("decide", task))
        return _Cloned() if task in self.reusable else None

    def clone(self, origins: list[Any]) -> list[Any]:
        self.events.append(("clone", len(origins)))
        return origins


@dataclass
class _RecordingLauncher:
    """Starts nothing: notes the task and hands the scheduler a process whose pipes never speak."""

    events: list[tuple[str, Any]]
    descriptors: list[int] = field(default_factory=list)

    def start(self, task: TaskRef, attempt: int) -> Any:
        from flowkit.runtime.worker import TaskProcess

        self.events.append(("start", task))
        pipes = [os.pipe(), os.pipe()]
        self.descriptors += [fd for pipe in pipes for fd in pipe]
        return TaskProcess(pid=-1, stdout_fd=pipes[0][0], stderr_fd=pipes[1][0])

    def timeout_seconds(self, task: TaskRef) -> None:
        return None


def _offer_during_resume(reusable: set[TaskRef]) -> tuple[Any, list[tuple[str, Any]]]:
    """What the scheduler does when outer/0 (3 splits) succeeded in a resume that reuses ``reusable``."""
    from flowkit.runtime.output import Progress
    from flowkit.runtime.scheduler import Scheduler

    events: list[tuple[str, Any]] = []
    launcher = _RecordingLauncher(events)
    graph: Any = nested_foreach_graph()
    reuse: Any = _RecordingReuse(reusable, events)
    scheduler = Scheduler(graph, launcher, None, Progress(), max_workers=1, reuse=reuse)  # type: ignore[arg-type]
    scheduler.outcome.succeeded.update({T("start"): 1, T("outer", (0,)): 3})
    try:
        scheduler._offer(T("outer", (0,)).children(graph, 3))
    finally:
        scheduler.selector.close()
        for fd in launcher.descriptors:
            os.close(fd)
    return scheduler, events


def test_cloned_parents_count_once_each_during_resume() -> None:
    """Cloning a chain of tasks in one pass must not count a parent twice (the join would start too early)."""
    scheduler, events = _offer_during_resume({T("inner", (0, 0)), T("inner", (0, 1))})
    assert ("start", T("inner", (0, 2))) in events and not scheduler.ready
    assert T("inner_join", (0,)) not in scheduler.known, "the join waits for the one task not cloned"
    assert scheduler.missing_parents[T("inner_join", (0,))] == 1


def test_a_resume_starts_the_tasks_that_run_before_it_clones_their_siblings() -> None:
    """The failed foreach task runs while its reused siblings are linked, not after."""
    _, events = _offer_during_resume({T("inner", (0, 0)), T("inner", (0, 2))})
    assert events == [
        *(("decide", T("inner", (0, index))) for index in range(3)),
        ("start", T("inner", (0, 1))),
        ("clone", 2),
    ]


def test_a_switch_starts_its_chosen_branch_and_the_branch_that_ran_is_the_parent_where_they_meet() -> None:
    nodes = [
        Node("start", "switch", ["a", "b"]),
        Node("a", "linear", ["merged"], ["start"]),
        Node("b", "linear", ["merged"], ["start"]),
        Node("merged", "linear", ["end"], ["a", "b"], groups=[["a", "b"]]),
        Node("end", "end", [], ["merged"]),
    ]
    graph: Any = Graph({node.name: node for node in nodes})
    assert T("start").children(graph, None, "b") == [T("b")], "a switch starts only the branch it took"
    assert T("merged").parent_groups(graph, {}.get) == [[T("a"), T("b")]]
    assert T("merged").parents(graph, {}.get, {T("b")}.__contains__) == [T("b")]
