"""A flow as long as a generated pipeline: thousands of steps in one chain build, validate and resolve.

The graph walk used to recurse once per step, so a chain longer than Python's recursion limit (1,000 frames) failed
with RecursionError instead of producing a graph.
"""

from __future__ import annotations

from itertools import pairwise

import pytest

from flowkit.graph import build_graph
from flowkit.specs import resolve_step_specs
from tests.model.conftest import LoadFlow


def chain_source(steps: int, class_line: str = "class F:") -> str:
    """A flow class of `steps` steps: start, s1 ... s{steps - 2}, end, each calling the next."""
    names = ["start", *(f"s{index}" for index in range(1, steps - 1)), "end"]
    body = "".join(
        f"    @step\n    def {name}(self):\n        self.next(self.{following})\n\n"
        for name, following in pairwise(names)
    )
    return f"{class_line}\n{body}    @step\n    def end(self):\n        pass\n"


@pytest.mark.parametrize("steps", [1_000, 3_000])
def test_a_chain_longer_than_the_recursion_limit_builds(load_flow: LoadFlow, steps: int) -> None:
    flow_cls = load_flow(chain_source(steps))

    graph = build_graph(flow_cls)

    order = graph.topological_order()
    assert len(order) == steps
    assert order[0] == "start" and order[1] == "s1" and order[-2] == f"s{steps - 2}" and order[-1] == "end"
    assert graph.steps[f"s{steps // 2}"].parents == [f"s{steps // 2 - 1}"]
    assert len(graph.descendants("start")) == steps - 1
    assert len(resolve_step_specs(flow_cls)) == steps
