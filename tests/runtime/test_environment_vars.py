"""@environment variables are set in the task's own process: the step sees them, other steps and the scheduler not."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.runtime.cli_runner import describe, run_flow_file, write_flow

FLOW = """
import os
from flowkit import Flow, environment, step


@environment(vars={"STAGE": "default"})
class EnvFlow(Flow):
    @step
    def start(self):
        self.seen_in_start = os.environ.get("STAGE")
        self.next(self.special)

    @environment(vars={"STAGE": "special", "EXTRA": "1"})
    @step
    def special(self):
        self.seen_in_special = (os.environ.get("STAGE"), os.environ.get("EXTRA"))
        self.next(self.end)

    @step
    def end(self):
        self.seen_in_end = (os.environ.get("STAGE"), os.environ.get("EXTRA"))


if __name__ == "__main__":
    EnvFlow()
"""


@pytest.mark.e2e
def test_environment_vars_reach_only_their_steps(tmp_path: Path, datastore_root: Path) -> None:
    result, run = run_flow_file(write_flow(tmp_path, FLOW), datastore_root=datastore_root)

    assert result.returncode == 0, describe(result)
    assert run.data.seen_in_start == "default"
    assert run.data.seen_in_special == ("special", "1")
    assert run.data.seen_in_end == ("default", None), "a step's variables do not leak into later tasks"
