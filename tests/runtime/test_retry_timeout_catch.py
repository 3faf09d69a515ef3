"""@retry re-runs a failed task as a new attempt, @timeout kills a task's whole process group, @catch keeps going."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.runtime.cli_runner import describe, run_flow_file, write_flow

RETRY_FLOW = """
import os
from flowkit import Flow, current, retry, step


class RetryFlow(Flow):
    @retry(times=2, minutes_between_retries=30)
    @step
    def start(self):
        print(f"attempt {current.retry_count}")
        if current.retry_count == 0:
            raise RuntimeError("first attempt fails")
        if current.retry_count == 1:
            os._exit(9)
        self.attempt = current.retry_count
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    RetryFlow()
"""


@pytest.mark.e2e
def test_retry_runs_new_attempts_after_exceptions_and_dead_processes(tmp_path: Path, datastore_root: Path) -> None:
    """The retries start at once: a 30-minute wait between them (Argo's backoff) would hit the command's timeout."""
    result, run = run_flow_file(write_flow(tmp_path, RETRY_FLOW), datastore_root=datastore_root, timeout=120)

    assert result.returncode == 0, describe(result)
    assert run.data.attempt == 2
    task_dir = datastore_root / "runs" / "RetryFlow" / run.id / "start" / "0"
    assert sorted(path.name for path in task_dir.glob("*.json")) == ["0.json", "1.json", "2.json"]
    assert "[start/0] attempt 1" in result.stdout


TIMEOUT_FLOW = """
import subprocess, sys, time
from pathlib import Path
from flowkit import Flow, Parameter, step, timeout


class SlowFlow(Flow):
    pid_file = Parameter("pid_file", type=str, required=True)

    @timeout(seconds=2)
    @step
    def start(self):
        helper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
        Path(self.pid_file).write_text(str(helper.pid))
        time.sleep(120)
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    SlowFlow()
"""


@pytest.mark.e2e
def test_timeout_kills_the_task_and_what_it_started(tmp_path: Path, datastore_root: Path) -> None:
    pid_file = tmp_path / "helper.pid"
    result, run = run_flow_file(
        write_flow(tmp_path, TIMEOUT_FLOW), "--pid_file", str(pid_file), datastore_root=datastore_root, timeout=60
    )

    assert result.returncode == 1, describe(result)
    assert "timed out" in result.stderr
    assert not run.successful
    assert not _alive(int(pid_file.read_text())), "the process the task started must die with it"


def _alive(pid: int) -> bool:
    """Running and not a zombie (an orphan may wait, unreaped, for a container's init process)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return False
    return state != "Z"


CATCH_FLOW = """
import ctypes
from flowkit import Flow, catch, retry, step


class CatchFlow(Flow):
    @step
    def start(self):
        self.next(self.fails, self.crashes, self.fine)

    @catch(var="failure")
    @step
    def fails(self):
        raise KeyError("missing")
        self.next(self.join)

    @catch(var="failure")
    @retry(times=1, minutes_between_retries=0)
    @step
    def crashes(self):
        ctypes.string_at(0)
        self.next(self.join)

    @catch(var="failure")
    @step
    def fine(self):
        self.failure = "overwritten: a step that succeeds has no failure"
        self.next(self.join)

    @step
    def join(self, inputs):
        self.failure_types = {
            "fails": inputs.fails.failure.type,
            "crashes": inputs.crashes.failure.type,
            "fine": inputs.fine.failure,
        }
        self.exception_text = inputs.fails.failure.exception
        self.traceback_text = str(inputs.fails.failure)
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    CatchFlow()
"""


@pytest.mark.e2e
def test_catch_turns_exceptions_and_crashes_on_the_last_attempt_into_an_artifact(
    tmp_path: Path, datastore_root: Path
) -> None:
    result, run = run_flow_file(write_flow(tmp_path, CATCH_FLOW), datastore_root=datastore_root)

    assert result.returncode == 0, describe(result)
    assert run.data.failure_types == {
        "fails": "builtins.KeyError",
        "crashes": "flowkit.errors.TaskFailedError",
        "fine": None,
    }
    assert run.data.exception_text == "'missing'"
    assert run.data.traceback_text.startswith("Traceback") and "KeyError: 'missing'" in run.data.traceback_text
    assert run["fails"].task.exception is None, "a caught failure is the catch var, not the task's exception"
    crash_dir = datastore_root / "runs" / "CatchFlow" / run.id / "crashes" / "0"
    assert sorted(path.name for path in crash_dir.glob("*.json")) == ["0.json", "1.json"]
