"""The pod entry point supervises its task: ``@timeout`` kills it, and ``@catch``/retries see the failure.

Each task runs as ``python -m flowkit.task`` in its own process, as in a pod, where no scheduler is there to kill
an overdue task or to record a task that died.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from flowkit.datastore import DataStore, TaskRecord
from flowkit.identity import TaskRef
from tests.argo import watchdog_flows
from tests.runtime.test_retry_timeout_catch import _alive

FLOWS_FILE = Path(watchdog_flows.__file__).resolve()
REPO = FLOWS_FILE.parents[2]

pytestmark = pytest.mark.e2e


def _command(root: Path, flow: str, *arguments: str) -> list[str]:
    return [sys.executable, "-m", "flowkit.task", "--datastore-root", str(root), "--flow", f"{FLOWS_FILE}:{flow}",
            "--run-id", "r1", *arguments]  # fmt: skip


def _task(root: Path, flow: str, *arguments: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        _command(root, flow, *arguments), capture_output=True, text=True, cwd=REPO, timeout=120, check=False
    )


def _record(root: Path, flow: str, step: str, attempt: int) -> TaskRecord:
    return DataStore(root).read_record(TaskRef(flow, "r1", step), attempt)


def _wait_until(condition: object, seconds: float = 30.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if callable(condition) and condition():
            return True
        time.sleep(0.05)
    return False


def test_an_overdue_task_fails_then_its_last_attempt_is_caught(tmp_path: Path) -> None:
    root, pid_file = tmp_path / "store", tmp_path / "helper.pid"
    started = _task(root, "CaughtTimeoutFlow", "--step", "start", "--param", f'pid_file="{pid_file}"')
    assert started.returncode == 0, started.stderr

    began = time.monotonic()
    first = _task(root, "CaughtTimeoutFlow", "--step", "slow", "--attempt", "0", "--tee-logs")
    assert time.monotonic() - began < 60, "killed at its 1 s timeout, not after its 120 s sleep"
    assert first.returncode == 1, "not the last attempt: a failure, so that Argo retries"
    failed = _record(root, "CaughtTimeoutFlow", "slow", 0)
    assert failed.status == "failed" and failed.error is not None
    assert failed.error.message == "timed out after 1 seconds (@timeout); the task's processes were killed"
    assert not _alive(int(pid_file.read_text())), "what the task started dies with it"
    coords = TaskRef("CaughtTimeoutFlow", "r1", "slow")
    assert "timed out after 1 seconds" in DataStore(root).read_log(coords, 0, "err")

    last = _task(root, "CaughtTimeoutFlow", "--step", "slow", "--attempt", "1")
    assert last.returncode == 0, last.stderr
    caught = _record(root, "CaughtTimeoutFlow", "slow", 1)
    assert caught.status == "succeeded" and set(caught.artifacts) >= {"before", "slow_error"}
    assert "never" not in caught.artifacts
    assert _task(root, "CaughtTimeoutFlow", "--step", "end").returncode == 0
    end = _record(root, "CaughtTimeoutFlow", "end", 0)
    outcome = DataStore(root).blobs.load(end.artifacts["outcome"].sha256)
    assert outcome.startswith("TaskFailedError: CaughtTimeoutFlow/r1/slow/0: timed out after 1 seconds")


def test_a_task_that_exits_without_committing_gets_a_failed_record(tmp_path: Path) -> None:
    crashed = _task(tmp_path, "CrashFlow", "--step", "start")
    assert crashed.returncode == 1
    record = _record(tmp_path, "CrashFlow", "start", 0)
    assert record.status == "failed" and record.exit_code == 7
    assert record.error is not None
    assert record.error.message == "the task process exited with code 7 before committing its result"


@pytest.mark.parametrize("stop", [signal.SIGTERM, signal.SIGKILL], ids=["sigterm", "sigkill"])
def test_stopping_the_task_process_stops_the_step_and_records_nothing(tmp_path: Path, stop: signal.Signals) -> None:
    """SIGTERM (a pod being deleted) is passed on to the step; after SIGKILL the orphaned step kills itself."""
    root, pid_file = tmp_path / "store", tmp_path / "helper.pid"
    process = subprocess.Popen(
        _command(root, "LongStepFlow", "--step", "start", "--param", f'pid_file="{pid_file}"'),
        cwd=REPO,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert _wait_until(lambda: pid_file.exists() and pid_file.read_text()), "the step never started"
        helper = int(pid_file.read_text())
        os.kill(process.pid, stop)
        assert process.wait(timeout=30) == (128 + signal.SIGTERM if stop == signal.SIGTERM else -signal.SIGKILL)
        assert _wait_until(lambda: not _alive(helper)), "the step's processes outlived the task process"
    finally:
        process.kill()
        process.wait()
    assert DataStore(root).list_attempts(TaskRef("LongStepFlow", "r1", "start")) == []
