"""Local task processes, and whatever they started, die with their scheduler however it dies (SIGKILL included)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.runtime.cli_runner import REPO_ROOT, write_flow

STUCK_FLOW = """
import os, time
from pathlib import Path
from flowkit import Flow, Parameter, step


def tell(directory, name):
    Path(directory, "." + name).write_text(str(os.getpid()))
    os.replace(Path(directory, "." + name), Path(directory, name))


class StuckFlow(Flow):
    pids = Parameter("pids", type=str, required=True)

    @step
    def start(self):
        if os.fork() == 0:  # something the step started, in the task's process group
            tell(self.pids, "grandchild")
            time.sleep(600)
            os._exit(0)
        tell(self.pids, "task")
        time.sleep(600)
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    StuckFlow()
"""


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A killed process that nobody reaped yet is a zombie: dead for our purpose.
    return Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0] != "Z"


@pytest.mark.e2e
def test_tasks_die_when_the_scheduler_is_killed(tmp_path: Path, datastore_root: Path) -> None:
    pids = tmp_path / "pids"
    pids.mkdir()
    flow_file = write_flow(tmp_path, STUCK_FLOW)
    env = {**os.environ, "FLOWKIT_DATASTORE_ROOT": str(datastore_root), "PYTHONPATH": str(REPO_ROOT)}
    scheduler = subprocess.Popen(
        [sys.executable, str(flow_file), "run", "--pids", str(pids)], env=env, cwd=tmp_path, stdout=subprocess.DEVNULL
    )
    deadline = time.monotonic() + 60
    while len(list(pids.glob("[!.]*"))) < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    started = {path.name: int(path.read_text()) for path in pids.glob("[!.]*")}
    assert set(started) == {"task", "grandchild"}
    try:
        scheduler.send_signal(signal.SIGKILL)
        scheduler.wait(timeout=10)
        deadline = time.monotonic() + 10
        while any(map(_alive, started.values())) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not any(map(_alive, started.values())), "the task and its own child died with the scheduler"
    finally:
        for pid in started.values():
            if _alive(pid):
                os.kill(pid, signal.SIGKILL)


@pytest.mark.e2e
def test_a_task_in_another_interpreter_dies_when_the_scheduler_closes_its_lifeline(
    tmp_path: Path, datastore_root: Path
) -> None:
    """The `--environment conda` path: `python -m flowkit.task` spawned, not forked, with the lifeline passed on."""
    from flowkit.runtime.worker import forking_context, spawn_task

    pids = tmp_path / "pids"
    pids.mkdir()
    flow_file = write_flow(tmp_path, STUCK_FLOW)
    argv = [sys.executable, "-m", "flowkit.task", "--datastore-root", str(datastore_root)]
    argv += ["--flow", f"{flow_file}:StuckFlow", "--run-id", "r1", "--step", "start", "--param", f'pids="{pids}"']
    with forking_context():
        process = spawn_task(argv, {"PYTHONPATH": str(REPO_ROOT)})
        deadline = time.monotonic() + 60
        while len(list(pids.glob("[!.]*"))) < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
    started = {path.name: int(path.read_text()) for path in pids.glob("[!.]*")}
    try:
        assert set(started) == {"task", "grandchild"}
        assert process.popen is not None
        process.popen.wait(timeout=30)  # the lifeline closed with the context: the spawned task ends by itself
        deadline = time.monotonic() + 10
        while any(map(_alive, started.values())) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not any(map(_alive, started.values())), "the supervised task and its own child died too"
    finally:
        process.close()
        for pid in started.values():
            if _alive(pid):
                os.kill(pid, signal.SIGKILL)
