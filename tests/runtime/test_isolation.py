"""A crash of any kind in user code fails that task only: the scheduler survives, reports it, and exits non-zero."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.runtime.cli_runner import describe, run_flow_file, write_flow

CRASHES = {
    "exception": "raise ValueError('bad input in the step')",
    "sys_exit": "sys.exit(3)",
    "os_exit": "os._exit(7)",
    "segfault": "ctypes.string_at(0)",
    "signal": "os.kill(os.getpid(), signal.SIGTERM)",
}

FLOW = """
import ctypes, os, signal, sys
from flowkit import Flow, step


class CrashFlow(Flow):
    @step
    def start(self):
        self.next(self.healthy, self.crashing)

    @step
    def healthy(self):
        self.fine = True
        self.next(self.join)

    @step
    def crashing(self):
        print("about to crash", flush=True)
        {crash}
        self.next(self.join)

    @step
    def join(self, inputs):
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    CrashFlow()
"""


@pytest.mark.e2e
@pytest.mark.parametrize("crash", sorted(CRASHES))
def test_a_crashing_task_fails_alone(crash: str, tmp_path: Path, datastore_root: Path) -> None:
    flow_file = write_flow(tmp_path, FLOW.replace("{crash}", CRASHES[crash]))
    result, run = run_flow_file(flow_file, "--max-workers", "2", datastore_root=datastore_root)

    assert result.returncode == 1, describe(result)
    assert "Task crashing/0 failed" in result.stderr, describe(result)
    assert "Traceback" not in result.stderr.split("Task crashing/0 failed")[0], "the scheduler itself must not crash"
    assert not run.successful
    crashed = run["crashing"].task
    assert not crashed.successful
    assert "about to crash" in crashed.stdout
    assert run["healthy"].task.data.fine is True


STOP_FLOW = """
from flowkit import Flow, step


class StopFlow(Flow):
    @step
    def start(self):
        self.items = list(range(5))
        self.next(self.work, foreach="items")

    @step
    def work(self):
        if self.input == 0:
            raise RuntimeError("the first item fails")
        self.next(self.join)

    @step
    def join(self, inputs):
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    StopFlow()
"""


@pytest.mark.e2e
def test_no_new_task_starts_after_a_failure(tmp_path: Path, datastore_root: Path) -> None:
    flow_file = write_flow(tmp_path, STOP_FLOW)
    result, run = run_flow_file(flow_file, "--max-workers", "1", datastore_root=datastore_root)

    assert result.returncode == 1, describe(result)
    assert "RuntimeError: the first item fails" in result.stderr
    assert [task.id for task in run["work"].tasks] == ["0.0"], "items 1-4 were queued but must never start"
