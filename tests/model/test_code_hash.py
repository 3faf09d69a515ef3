"""Each step's code hash (what resume compares) changes with its code and its parents, not with its layout."""

from __future__ import annotations

from flowkit.graph import build_graph
from tests.model.conftest import LoadFlow

BASE = """
class F:
    @step
    def start(self):
        self.x = 1
        self.next(self.middle)

    @step
    def middle(self):
        self.y = self.x + 1
        self.next(self.end)

    @step
    def end(self):
        pass
"""


def _hashes(load_flow: LoadFlow, source: str) -> dict[str, str]:
    return {name: node.code_hash for name, node in build_graph(load_flow(source)).steps.items()}


def test_comments_blank_lines_position_and_decorators_keep_the_hash(load_flow: LoadFlow) -> None:
    reworded = BASE.replace(
        "        self.y = self.x + 1", "\n\n        # a comment\n        self.y = self.x + 1  # more"
    )
    decorated = BASE.replace(
        "    @step\n    def middle", "    @retry(times=2)\n    @kubernetes(cpu=4)\n    @step\n    def middle"
    )
    base = _hashes(load_flow, BASE)
    assert len(set(base.values())) == 3
    assert _hashes(load_flow, reworded) == base
    assert _hashes(load_flow, decorated) == base


def test_an_edited_step_changes_its_own_hash_only(load_flow: LoadFlow) -> None:
    base = _hashes(load_flow, BASE)
    edited = _hashes(load_flow, BASE.replace("self.x + 1", "self.x + 2"))
    assert {name for name in base if base[name] != edited[name]} == {"middle"}


def test_a_step_after_a_different_parent_changes_its_hash(load_flow: LoadFlow) -> None:
    base = _hashes(load_flow, BASE)
    renamed = _hashes(
        load_flow, BASE.replace("self.next(self.middle)", "self.next(self.other)").replace("def middle", "def other")
    )
    assert renamed["end"] != base["end"], "end's code is the same, but it now follows another step"
    assert renamed["other"] == base["middle"], "same code, same parent: a rename alone does not change the code"
