"""resume starts a new run that reuses every task before the failed step (or STEP) and re-runs from there."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.runtime.cli_runner import REPO_ROOT, describe, flow_command, run_flow_file, write_flow

FLAKY_FLOW = """
import os
from flowkit import Flow, Parameter, step


class FlakyFlow(Flow):
    flag = Parameter("flag", type=str, required=True)

    @step
    def start(self):
        self.started_pid = os.getpid()
        self.next(self.middle)

    @step
    def middle(self):
        if os.path.exists(self.flag):
            raise RuntimeError("the flag is still up")
        self.value = 41
        self.next(self.end)

    @step
    def end(self):
        self.value += 1


if __name__ == "__main__":
    FlakyFlow()
"""


@pytest.mark.e2e
def test_resume_reuses_tasks_before_the_failed_step(tmp_path: Path, datastore_root: Path) -> None:
    flag = tmp_path / "flag"
    flag.touch()
    flow_file = write_flow(tmp_path, FLAKY_FLOW)
    failed, origin = run_flow_file(flow_file, "--flag", str(flag), datastore_root=datastore_root)
    assert failed.returncode == 1, describe(failed)
    assert "the flag is still up" in failed.stderr

    flag.unlink()
    resumed, run = run_flow_file(flow_file, datastore_root=datastore_root, command="resume")
    assert resumed.returncode == 0, describe(resumed)
    assert run.id != origin.id
    assert run.data.value == 42
    assert run["start"].task.data.started_pid == origin["start"].task.data.started_pid, "start was cloned, not re-run"


@pytest.mark.e2e
def test_resume_from_a_named_step_reruns_it_and_everything_after(tmp_path: Path, datastore_root: Path) -> None:
    flow_file = write_flow(tmp_path, FLAKY_FLOW)
    first, origin = run_flow_file(flow_file, "--flag", str(tmp_path / "absent"), datastore_root=datastore_root)
    assert first.returncode == 0, describe(first)

    again, run = run_flow_file(
        flow_file, "start", "--origin-run-id", origin.id, datastore_root=datastore_root, command="resume"
    )
    assert again.returncode == 0, describe(again)
    assert run["start"].task.data.started_pid != origin["start"].task.data.started_pid
    assert run.data.value == 42


def test_resume_names_an_unknown_step(tmp_path: Path, datastore_root: Path) -> None:
    flow_file = write_flow(tmp_path, FLAKY_FLOW)
    first, _ = run_flow_file(flow_file, "--flag", str(tmp_path / "absent"), datastore_root=datastore_root)
    assert first.returncode == 0, describe(first)
    result = flow_command(flow_file, "resume", "nosuchstep", datastore_root=datastore_root)
    assert result.returncode == 1
    assert "FlakyFlow" in result.stderr and "nosuchstep" in result.stderr
    assert "Traceback" not in result.stderr


WIDE_FLOW = """
import os, time
from pathlib import Path
from flowkit import Flow, Parameter, step


class WideFlow(Flow):
    gate = Parameter("gate", type=str, required=True)

    @step
    def start(self):
        self.items = list(range(6))
        self.next(self.work, foreach="items")

    @step
    def work(self):
        gate = Path(self.gate)
        (gate.parent / f"pid-{os.getpid()}").touch()
        while self.input >= 2 and not gate.exists():
            time.sleep(0.05)
        self.square = self.input * self.input
        self.next(self.join)

    @step
    def join(self, inputs):
        self.total = sum(task.square for task in inputs)
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    WideFlow()
"""


@pytest.mark.e2e
def test_sigkill_of_the_scheduler_then_resume_finishes_the_run(tmp_path: Path, datastore_root: Path) -> None:
    gate_dir = tmp_path / "gate"
    gate_dir.mkdir()
    gate = gate_dir / "open"
    flow_file = write_flow(tmp_path, WIDE_FLOW)
    run_id_file = tmp_path / "first-run-id"
    env = {**os.environ, "FLOWKIT_DATASTORE_ROOT": str(datastore_root), "PYTHONPATH": str(REPO_ROOT)}
    scheduler = subprocess.Popen(
        [
            sys.executable,
            str(flow_file),
            "run",
            "--gate",
            str(gate),
            "--max-workers",
            "3",
            "--run-id-file",
            str(run_id_file),
        ],
        env=env,
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not run_id_file.exists():
        time.sleep(0.05)
    work_dir = datastore_root / "runs" / "WideFlow" / run_id_file.read_text().strip() / "work"
    while time.monotonic() < deadline and len(list(work_dir.glob("*/0.json"))) < 2:
        time.sleep(0.05)
    assert len(list(work_dir.glob("*/0.json"))) == 2, "items 0 and 1 should have committed"

    scheduler.send_signal(signal.SIGKILL)
    scheduler.wait(timeout=10)
    for marker in gate_dir.glob("pid-*"):  # the machine went down: its task processes die with the scheduler
        with contextlib.suppress(ProcessLookupError):
            os.kill(int(marker.name[4:]), signal.SIGKILL)
    gate.touch()

    resumed, run = run_flow_file(flow_file, "--max-workers", "3", datastore_root=datastore_root, command="resume")
    assert resumed.returncode == 0, describe(resumed)
    assert run.data.total == sum(i * i for i in range(6))
    assert run["start"].task.metadata.origin_run_id == run_id_file.read_text().strip()
