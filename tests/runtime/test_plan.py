"""Task readiness from the graph: parents per the contract's task-identity rules, foreach widths, empty foreach."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from flowkit.runtime.plan import TaskKey, TaskPlanner


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


def test_foreach_children_get_one_index_per_split_and_nested_paths_extend() -> None:
    planner = TaskPlanner(nested_foreach_graph())  # type: ignore[arg-type]
    assert planner.children(TaskKey("start"), 2) == [TaskKey("outer", (0,)), TaskKey("outer", (1,))]
    assert planner.children(TaskKey("outer", (1,)), 3) == [TaskKey("inner", (1, i)) for i in range(3)]
    assert planner.children(TaskKey("inner", (1, 2)), None) == [TaskKey("inner_join", (1,))]
    assert planner.children(TaskKey("inner_join", (1,)), None) == [TaskKey("outer_join", ())]


def test_foreach_join_waits_for_every_split_of_its_own_foreach_task() -> None:
    planner = TaskPlanner(nested_foreach_graph())  # type: ignore[arg-type]
    done: dict[TaskKey, int | None] = {TaskKey("start"): 2, TaskKey("outer", (0,)): 2}
    join = TaskKey("inner_join", (0,))
    assert planner.parents(join, done) == [TaskKey("inner", (0, 0)), TaskKey("inner", (0, 1))]
    assert planner.parents(TaskKey("inner_join", (1,)), done) is None  # outer/0.1 has not recorded its width yet


def test_static_join_needs_every_branch_and_body_step_follows_its_foreach_task() -> None:
    planner = TaskPlanner(nested_foreach_graph())  # type: ignore[arg-type]
    assert planner.parents(TaskKey("join"), {}) == [TaskKey("a"), TaskKey("b")]
    assert planner.parents(TaskKey("outer", (1,)), {}) == [TaskKey("start")]
    assert planner.parents(TaskKey("inner", (1, 0)), {}) == [TaskKey("outer", (1,))]


def test_empty_foreach_goes_straight_to_its_join() -> None:
    planner = TaskPlanner(nested_foreach_graph())  # type: ignore[arg-type]
    assert planner.children(TaskKey("outer", (0,)), 0) == [TaskKey("inner_join", (0,))]
    assert planner.parents(TaskKey("inner_join", (0,)), {TaskKey("outer", (0,)): 0}) == []


def test_exit_handler_is_not_scheduled_by_the_graph_walk() -> None:
    planner = TaskPlanner(nested_foreach_graph())  # type: ignore[arg-type]
    assert planner.exit_handler() == "on_exit"
    assert planner.children(TaskKey("end"), None) == []
    assert TaskKey("start").task_id == "0" and TaskKey("inner", (1, 2)).task_id == "0.1.2"


def test_scheduler_releases_a_join_only_when_its_last_parent_succeeds() -> None:
    from flowkit.runtime.output import Progress
    from flowkit.runtime.scheduler import Scheduler

    planner = TaskPlanner(nested_foreach_graph())  # type: ignore[arg-type]
    # Only the bookkeeping is exercised: nothing is launched, so no launcher or console is needed.
    scheduler = Scheduler(planner, None, None, Progress(), max_workers=1)  # type: ignore[arg-type]
    succeeded = scheduler.outcome.succeeded
    succeeded.update({TaskKey("start"): 1, TaskKey("outer", (0,)): 3})
    join = TaskKey("inner_join", (0,))
    for index in range(3):
        succeeded[TaskKey("inner", (0, index))] = None
        scheduler._offer([join])
        assert (join in scheduler.ready) == (index == 2)
    scheduler._offer([join])
    assert list(scheduler.ready) == [join], "a task is queued once, however often it is offered"


def test_cloned_parents_count_once_each_during_resume() -> None:
    """Cloning a chain of tasks in one pass must not count a parent twice (the join would start too early)."""
    from flowkit.runtime.output import Progress
    from flowkit.runtime.scheduler import Scheduler

    class Cloned:
        num_splits = None

    planner = TaskPlanner(nested_foreach_graph())  # type: ignore[arg-type]
    reusable = {TaskKey("inner", (0, 0)), TaskKey("inner", (0, 1))}

    def clone(task: TaskKey, parents: list[TaskKey]) -> Any:
        assert parents == [TaskKey("outer", (0,))]
        return Cloned() if task in reusable else None

    scheduler = Scheduler(planner, None, None, Progress(), max_workers=1, reuse=clone)  # type: ignore[arg-type]
    scheduler.outcome.succeeded.update({TaskKey("start"): 1, TaskKey("outer", (0,)): 3})
    scheduler._offer(planner.children(TaskKey("outer", (0,)), 3))
    assert list(scheduler.ready) == [TaskKey("inner", (0, 2))], "the join waits for the one task not cloned"
