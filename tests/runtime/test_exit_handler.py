"""The exit-handler step (`@argo(on_exit=...)`) runs locally after the run ends, told how the run went."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.runtime.cli_runner import describe, run_flow_file, write_flow

FLOW = """
from flowkit import Flow, Parameter, argo, current, step


@argo(on_exit="notify")
class NotifiedFlow(Flow):
    fail = Parameter("fail", default=False)

    @step
    def start(self):
        if self.fail:
            raise RuntimeError("asked to fail")
        self.next(self.end)

    @step
    def end(self):
        pass

    @step
    def notify(self):
        print(f"run finished: {current.workflow_status}")
"""


@pytest.mark.e2e
@pytest.mark.parametrize(("fail", "status", "exit_code"), [("false", "Succeeded", 0), ("true", "Failed", 1)])
def test_exit_handler_runs_with_the_run_status(
    fail: str, status: str, exit_code: int, tmp_path: Path, datastore_root: Path
) -> None:
    flow_file = write_flow(tmp_path, FLOW + '\n\nif __name__ == "__main__":\n    NotifiedFlow()\n')
    result, run = run_flow_file(flow_file, "--fail", fail, datastore_root=datastore_root)

    assert result.returncode == exit_code, describe(result)
    assert f"[notify/0] run finished: {status}" in result.stdout
    assert run["notify"].task.stdout == f"run finished: {status}\n"
