"""Every invalid graph fails with a `FlowDefinitionError` naming the flow, the step and the source line."""

from __future__ import annotations

import json

import pytest

from flowkit.errors import FlowDefinitionError
from flowkit.graph import FlowGraph, build_graph
from tests.model.conftest import LoadFlow, line_of

END = """
    @step
    def end(self):
        pass
"""

CASES = {
    "start is a join": (
        """
class F:
    @step
    def start(self, inputs):  # HERE
        self.next(self.end)
"""
        + END,
        "start",
        "start cannot be a join",
    ),
    "unreachable step": (
        """
class F:
    @step
    def start(self):
        self.next(self.end)

    @step
    def orphan(self):  # HERE
        self.next(self.end)
"""
        + END,
        "orphan",
        "unreachable",
    ),
    "target is not a step": (
        """
class F:
    @step
    def start(self):
        self.next(self.helper)  # HERE

    def helper(self):
        pass
"""
        + END,
        "start",
        "'helper' is not a step",
    ),
    "step without self.next": (
        """
class F:
    @step
    def start(self):
        self.next(self.middle)

    @step
    def middle(self):  # HERE
        pass
"""
        + END,
        "middle",
        "does not call self.next",
    ),
    "end calls self.next": (
        """
class F:
    @step
    def start(self):
        self.next(self.end)

    @step
    def end(self):
        self.next(self.start)  # HERE
""",
        "end",
        "must not call self.next",
    ),
    "conditional transition": (
        """
class F:
    @step
    def start(self):
        if self.x:
            self.next(self.a)
        else:
            self.next(self.end)  # HERE

    @step
    def a(self):
        self.next(self.end)
"""
        + END,
        "start",
        "a step has exactly one self.next call: to choose between steps at run time, use a switch",
    ),
    "computed target with getattr": (
        """
class F:
    @step
    def start(self):
        self.next(getattr(self, "end"))  # HERE
"""
        + END,
        "start",
        "computed target",
    ),
    "target held in a variable": (
        """
class F:
    @step
    def start(self):
        target = self.end
        self.next(target)  # HERE
"""
        + END,
        "start",
        "computed target",
    ),
    "foreach is not a string literal": (
        """
class F:
    @step
    def start(self):
        name = "items"
        self.next(self.work, foreach=name)  # HERE

    @step
    def work(self):
        self.next(self.join)

    @step
    def join(self, inputs):
        self.next(self.end)
"""
        + END,
        "start",
        "must be a string literal",
    ),
    "foreach with two targets": (
        """
class F:
    @step
    def start(self):
        self.next(self.a, self.b, foreach="items")  # HERE

    @step
    def a(self):
        self.next(self.join)

    @step
    def b(self):
        self.next(self.join)

    @step
    def join(self, inputs):
        self.next(self.end)
"""
        + END,
        "start",
        "a foreach transitions to exactly one step",
    ),
    "foreach without a join": (
        """
class F:
    @step
    def start(self):
        self.items = [1, 2]
        self.next(self.work, foreach="items")  # HERE

    @step
    def work(self):
        self.next(self.end)
"""
        + END,
        "start",
        "has no matching join",
    ),
    "join of branches of different splits": (
        """
class F:
    @step
    def start(self):
        self.next(self.a, self.b)

    @step
    def a(self):
        self.next(self.a1, self.a2)

    @step
    def a1(self):
        self.next(self.mixed)

    @step
    def a2(self):
        self.next(self.join_a)

    @step
    def b(self):
        self.next(self.mixed)

    @step
    def mixed(self, inputs):  # HERE
        self.next(self.join_a)

    @step
    def join_a(self, inputs):
        self.next(self.end)
"""
        + END,
        "mixed",
        "joins branches of different splits",
    ),
    "join with a single non-foreach parent": (
        """
class F:
    @step
    def start(self):
        self.next(self.join)

    @step
    def join(self, inputs):  # HERE
        self.next(self.end)
"""
        + END,
        "join",
        "closes no split or foreach",
    ),
    "join missing a branch": (
        """
class F:
    @step
    def start(self):
        self.next(self.a, self.b, self.c)

    @step
    def a(self):
        self.next(self.join)

    @step
    def b(self):
        self.next(self.join)

    @step
    def c(self):
        self.next(self.end)

    @step
    def join(self, inputs):  # HERE
        self.next(self.end)
"""
        + END,
        "join",
        "but closes 'start', a split into 3 branches",
    ),
    "branches merged without a join": (
        """
class F:
    @step
    def start(self):
        self.next(self.a, self.b)

    @step
    def a(self):
        self.next(self.merge)

    @step
    def b(self):
        self.next(self.merge)

    @step
    def merge(self):  # HERE
        self.next(self.end)
"""
        + END,
        "merge",
        "takes no 'inputs'",
    ),
    "cycle": (
        """
class F:
    @step
    def start(self):
        self.next(self.a)

    @step
    def a(self):
        self.next(self.b)

    @step
    def b(self):
        self.next(self.a)  # HERE
"""
        + END,
        "b",
        "closes a cycle",
    ),
    "keyword other than foreach or condition": (
        """
class F:
    @step
    def start(self):
        self.next(self.end, retries=3)  # HERE
"""
        + END,
        "start",
        "does not accept retries=",
    ),
    "condition without a dict of cases": (
        """
class F:
    @step
    def start(self):
        self.next(self.end, condition="x")  # HERE
"""
        + END,
        "start",
        "a switch takes one dict of cases and condition='artifact_name'",
    ),
    "switch case that is not a literal": (
        """
class F:
    @step
    def start(self):
        self.next({self.x: self.a, "b": self.end}, condition="x")  # HERE

    @step
    def a(self):
        self.next(self.end)
"""
        + END,
        "start",
        "switch case self.x is not a literal string or number",
    ),
    "switch straight into a join": (
        """
class F:
    @step
    def start(self):
        self.next(self.a, self.b)

    @step
    def a(self):
        self.next({"x": self.join, "y": self.c}, condition="k")  # HERE

    @step
    def c(self):
        self.next(self.join)

    @step
    def b(self):
        self.next(self.join)

    @step
    def join(self, inputs):
        self.next(self.end)
"""
        + END,
        "a",
        "the switch leads straight to the join 'join'",
    ),
    "switch back to itself": (
        """
class F:
    @step
    def start(self):
        self.next({"again": self.start, "done": self.end}, condition="k")  # HERE
"""
        + END,
        "start",
        "loops are not supported",
    ),
    "next without a target": (
        """
class F:
    @step
    def start(self):
        self.next()  # HERE
"""
        + END,
        "start",
        "names no step",
    ),
    "same target twice": (
        """
class F:
    @step
    def start(self):
        self.next(self.end, self.end)  # HERE
"""
        + END,
        "start",
        "names step 'end' twice",
    ),
    "branch that is a join": (
        """
class F:
    @step
    def start(self):
        self.next(self.a, self.join)  # HERE

    @step
    def a(self):
        self.next(self.join)

    @step
    def join(self, inputs):
        self.next(self.end)
"""
        + END,
        "start",
        "a branch of a split cannot be its join",
    ),
    "starred targets": (
        """
class F:
    @step
    def start(self):
        self.next(*[self.end])  # HERE
"""
        + END,
        "start",
        "computed target",
    ),
}

for _api_name in ("next", "run", "main", "input", "merge_artifacts"):
    CASES[f"step named {_api_name}"] = (
        f"""
class F:
    @step
    def start(self):
        self.next(self.end)

    @step
    def {_api_name}(self):  # HERE
        pass
"""
        + END,
        _api_name,
        f"a step cannot be named {_api_name!r}: that name is part of the Flow API",
    )


@pytest.mark.parametrize("case", list(CASES))
def test_invalid_graph_names_flow_step_and_line(load_flow: LoadFlow, case: str) -> None:
    source, step, message = CASES[case]
    flow_cls = load_flow(source)
    with pytest.raises(FlowDefinitionError) as raised:
        build_graph(flow_cls)
    error = raised.value
    assert (error.flow, error.step, error.lineno) == ("F", step, line_of(source, "# HERE"))
    assert message in error.message
    assert str(error).startswith(f"F.{step} (line {error.lineno}): ")


@pytest.mark.parametrize("missing", ["start", "end"])
def test_missing_start_or_end(load_flow: LoadFlow, missing: str) -> None:
    other = "end" if missing == "start" else "start"
    source = f"""
class F:
    @step
    def {other}(self):
        pass
"""
    with pytest.raises(FlowDefinitionError, match=f"has no '{missing}' step") as raised:
        build_graph(load_flow(source))
    assert raised.value.flow == "F"


def test_unreadable_source_names_the_step() -> None:
    namespace: dict[str, object] = {}
    exec(  # no file and no linecache entry: the source cannot be found
        compile(
            "from flowkit.authoring.step import step\n"
            "class F:\n    @step\n    def start(self):\n        self.next(self.end)\n"
            "    @step\n    def end(self):\n        pass\n",
            "<nowhere>",
            "exec",
        ),
        namespace,
    )
    with pytest.raises(FlowDefinitionError, match="cannot read the step's source") as raised:
        build_graph(namespace["F"])  # type: ignore[arg-type]
    assert raised.value.flow == "F" and raised.value.step in {"start", "end"}


CUSTOM_ENDS = """
class F:
    @step(start=True)
    def begin(self):
        self.next(self.middle)

    @step
    def middle(self):
        self.next(self.finish)

    @step(end=True)
    def finish(self):
        pass
"""


def test_start_and_end_steps_can_have_any_name(load_flow: LoadFlow) -> None:
    graph = build_graph(load_flow(CUSTOM_ENDS))
    assert (graph.start_step, graph.end_step) == ("begin", "finish")
    assert FlowGraph.from_dict(json.loads(json.dumps(graph.to_dict()))) == graph, "a shipped copy keeps its ends"
    assert graph.topological_order() == ["begin", "middle", "finish"]
    assert graph.steps["finish"].transition == "end"


@pytest.mark.parametrize(
    ("source", "step", "message"),
    [
        (CUSTOM_ENDS.replace("def middle", "def start"), "begin", "a step named 'start' exists too"),
        (CUSTOM_ENDS.replace("@step\n    def middle", "@step(end=True)\n    def middle"), "middle", "all marked"),
        (CUSTOM_ENDS.replace("@step(start=True)", "@step(start=True, end=True)"), "begin", "two different steps"),
        (CUSTOM_ENDS.replace("@step(end=True)", "@step"), None, "has no 'end' step"),
    ],
    ids=["marked-and-named", "two-ends", "start-and-end", "no-end"],
)
def test_start_and_end_marks_are_checked(load_flow: LoadFlow, source: str, step: str | None, message: str) -> None:
    with pytest.raises(FlowDefinitionError, match=message) as raised:
        build_graph(load_flow(source))
    assert (raised.value.flow, raised.value.step) == ("F", step)


SWITCH = """
class F:
    @step
    def start(self):
        self.next({"fast": self.fast, "slow": self.slow, 3: self.other}, condition="mode")

    @step
    def fast(self):
        self.next(self.merged)

    @step
    def slow(self):
        self.next(self.slower)

    @step
    def slower(self):
        self.next(self.merged)

    @step
    def other(self):
        self.next(self.end)

    @step
    def merged(self):
        self.next(self.end)

    @step
    def end(self):
        pass
"""


def test_a_switch_runs_one_branch_and_its_branches_meet_in_a_plain_step(load_flow: LoadFlow) -> None:
    graph = build_graph(load_flow(SWITCH))
    start = graph.steps["start"]
    assert (start.transition, start.condition, start.out) == ("switch", "mode", ["fast", "slow", "other"])
    assert start.switch_cases == [("fast", "fast"), ("slow", "slow"), (3, "other")]
    assert graph.steps["merged"].parents == ["fast", "slower"] and not graph.steps["merged"].is_join
    assert graph.steps["slower"].runs_if == [[("start", "slow")]]
    assert graph.steps["merged"].runs_if == [[("start", "fast")], [("start", "slow")]]
    assert graph.steps["end"].runs_if == [[]], "every branch meets at end: it always runs"
    assert sorted(graph.steps["end"].parents) == ["merged", "other"]


def test_branches_that_can_both_run_cannot_meet_in_a_plain_step(load_flow: LoadFlow) -> None:
    source = SWITCH.replace("self.next(self.slower)", "self.next(self.slower, self.merged)")
    with pytest.raises(FlowDefinitionError, match="that can both run, but takes no 'inputs'") as raised:
        build_graph(load_flow(source))
    assert raised.value.step == "merged"
