"""Every supported graph shape is read from source with the right transitions, stacks, joins and depths."""

from __future__ import annotations

import json

from flowkit.graph import FlowGraph, StepNode, build_graph
from tests.model.conftest import LoadFlow, line_of

LINEAR = '''
class F:
    @step
    def start(self):
        """Begin here."""
        self.next(self.middle)

    @step
    def middle(self):  # middle-def
        self.next(self.end)

    @step
    def end(self):
        pass
'''


def test_linear_flow(load_flow: LoadFlow) -> None:
    graph = build_graph(load_flow(LINEAR))
    assert graph.flow_name == "F"
    assert graph.topological_order() == ["start", "middle", "end"]
    start, middle, end = graph.steps.values()
    assert (start.transition, start.out, start.parents, start.doc) == ("linear", ["middle"], [], "Begin here.")
    assert (middle.transition, middle.parents, middle.lineno) == ("linear", ["start"], line_of(LINEAR, "middle-def"))
    assert (end.transition, end.out, end.parents) == ("end", [], ["middle"])
    assert not any(node.is_join or node.split_stack or node.foreach_depth for node in graph.steps.values())
    assert graph.descendants("start") == {"middle", "end"}
    assert graph.descendants("end") == set()


BRANCH = """
class F:
    @step
    def start(self):
        self.next(self.a, self.b)

    @step
    def a(self):
        self.next(self.join)

    @step
    def b(self):
        self.next(self.join)

    @step
    def join(self, inputs):
        self.next(self.end)

    @step
    def end(self):
        pass
"""


def test_static_split_and_join(load_flow: LoadFlow) -> None:
    graph = build_graph(load_flow(BRANCH))
    steps = graph.steps
    assert list(steps)[:: len(steps) - 1] == ["start", "end"]
    assert (steps["start"].transition, steps["start"].out, steps["start"].matching_join) == (
        "split",
        ["a", "b"],
        "join",
    )
    assert steps["a"].split_stack == ["start"] and steps["b"].split_stack == ["start"]
    join = steps["join"]
    assert (join.is_join, join.joins, join.split_stack, sorted(join.parents)) == (True, "start", [], ["a", "b"])
    assert all(node.foreach_depth == 0 for node in steps.values())


NESTED_FOREACH = """
class F:
    @step
    def start(self):
        self.rows = [1, 2]
        self.next(self.outer, foreach="rows")

    @step
    def outer(self):
        self.cols = [1, 2, 3]
        self.next(self.inner, foreach="cols")

    @step
    def inner(self):
        self.next(self.join_inner)

    @step
    def join_inner(self, inputs):
        self.next(self.join_outer)

    @step
    def join_outer(self, inputs):
        self.next(self.end)

    @step
    def end(self):
        pass
"""


def test_nested_foreach(load_flow: LoadFlow) -> None:
    steps = build_graph(load_flow(NESTED_FOREACH)).steps
    assert list(steps) == ["start", "outer", "inner", "join_inner", "join_outer", "end"]
    assert (steps["start"].transition, steps["start"].foreach_var, steps["start"].matching_join) == (
        "foreach",
        "rows",
        "join_outer",
    )
    assert (steps["outer"].foreach_var, steps["outer"].matching_join) == ("cols", "join_inner")
    depths = {name: node.foreach_depth for name, node in steps.items()}
    assert depths == {"start": 0, "outer": 1, "inner": 2, "join_inner": 1, "join_outer": 0, "end": 0}
    assert steps["inner"].split_stack == ["start", "outer"]
    assert (steps["join_inner"].joins, steps["join_inner"].split_stack) == ("outer", ["start"])
    assert (steps["join_outer"].joins, steps["join_outer"].split_stack) == ("start", [])


FOREACH_IN_BRANCH = """
class F:
    @step
    def start(self):
        self.next(self.fan, self.plain)

    @step
    def fan(self):
        self.items = [1, 2]
        self.next(self.work, foreach="items")

    @step
    def work(self):
        self.next(self.gather)

    @step
    def gather(self, inputs):
        self.next(self.join)

    @step
    def plain(self):
        self.next(self.join)

    @step
    def join(self, inputs):
        self.next(self.end)

    @step
    def end(self):
        pass
"""


def test_foreach_inside_a_branch(load_flow: LoadFlow) -> None:
    graph = build_graph(load_flow(FOREACH_IN_BRANCH))
    steps = graph.steps
    order = graph.topological_order()
    assert order[0] == "start" and order[-1] == "end"
    for node in steps.values():
        assert all(order.index(parent) < order.index(node.name) for parent in node.parents)
    assert steps["work"].split_stack == ["start", "fan"] and steps["work"].foreach_depth == 1
    assert (steps["gather"].joins, steps["gather"].foreach_depth, steps["gather"].split_stack) == ("fan", 0, ["start"])
    assert (steps["join"].joins, sorted(steps["join"].parents)) == ("start", ["gather", "plain"])
    assert steps["start"].matching_join == "join" and steps["fan"].matching_join == "gather"
    assert graph.descendants("fan") == {"work", "gather", "join", "end"}


def test_to_dict_is_json_ready(load_flow: LoadFlow) -> None:
    graph = build_graph(load_flow(BRANCH))
    data = json.loads(json.dumps(graph.to_dict()))
    assert data["flow"] == "F"
    assert [step["name"] for step in data["steps"]] == graph.topological_order()
    assert data["steps"][0]["transition"] == "split"
    assert FlowGraph(flow_name="F", steps={step["name"]: StepNode(**step) for step in data["steps"]}) == graph
    assert FlowGraph.from_dict(data) == graph
