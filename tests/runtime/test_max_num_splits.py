"""--max-num-splits (default 100, as in Metaflow) fails a local foreach that fans out wider, naming flow and step."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.runtime.cli_runner import describe, run_flow_file, write_flow

pytestmark = pytest.mark.e2e

WIDE_FLOW = """
from flowkit import Flow, Parameter, catch, step


class WideFlow(Flow):
    width = Parameter("width", default=3)

    @catch(var="failure")
    @step
    def start(self):
        self.items = list(range(self.width))
        self.next(self.work, foreach="items")

    @step
    def work(self):
        self.next(self.join)

    @step
    def join(self, inputs):
        self.count = len(inputs)
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    WideFlow()
"""


@pytest.mark.parametrize(
    ("arguments", "limit"),
    [
        (["--width", "101"], 100),
        (["--width", "4", "--max-num-splits", "3"], 3),
        (["--width", "4", "--max-num-splits=3"], 3),
    ],
    ids=["default-100", "given", "given-with-equals"],
)
def test_a_wider_foreach_fails_naming_flow_step_and_option(
    tmp_path: Path, datastore_root: Path, arguments: list[str], limit: int
) -> None:
    result, run = run_flow_file(write_flow(tmp_path, WIDE_FLOW), *arguments, datastore_root=datastore_root)
    assert result.returncode == 1, describe(result)
    width = arguments[1]
    assert f"WideFlow.start foreach='items' yielded {width} splits, more than --max-num-splits {limit}" in result.stderr
    assert "work" not in run, "no task of the body started"
    assert run["start"].task.exception is not None, "the limit is not the step's failure for @catch to swallow"


def test_a_foreach_up_to_the_limit_runs(tmp_path: Path, datastore_root: Path) -> None:
    flow_file = write_flow(tmp_path, WIDE_FLOW)
    result, run = run_flow_file(flow_file, "--width", "4", "--max-num-splits", "4", datastore_root=datastore_root)
    assert result.returncode == 0, describe(result)
    assert run.data.count == 4
