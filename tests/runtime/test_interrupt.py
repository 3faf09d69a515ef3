"""Ctrl-C stops a run cleanly: the scheduler kills its running tasks and exits with status 130."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.runtime.cli_runner import REPO_ROOT, write_flow

FLOW = """
import os, time
from pathlib import Path
from flowkit import Flow, Parameter, step


class SleepyFlow(Flow):
    pid_file = Parameter("pid_file", type=str, required=True)

    @step
    def start(self):
        Path(self.pid_file).write_text(str(os.getpid()))
        time.sleep(120)
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    SleepyFlow()
"""


@pytest.mark.e2e
def test_interrupt_kills_running_tasks(tmp_path: Path, datastore_root: Path) -> None:
    pid_file = tmp_path / "task.pid"
    scheduler = subprocess.Popen(
        [sys.executable, str(write_flow(tmp_path, FLOW)), "run", "--pid_file", str(pid_file)],
        env={**os.environ, "FLOWKIT_DATASTORE_ROOT": str(datastore_root), "PYTHONPATH": str(REPO_ROOT)},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 60
    while not pid_file.exists() or not pid_file.read_text():
        assert time.monotonic() < deadline, "the task never started"
        time.sleep(0.05)
    task_pid = int(pid_file.read_text())

    scheduler.send_signal(signal.SIGINT)
    _, stderr = scheduler.communicate(timeout=30)

    assert scheduler.returncode == 130, stderr
    assert "Aborted" in stderr and "Traceback" not in stderr
    assert not Path(f"/proc/{task_pid}").exists(), "the task was killed and reaped"
