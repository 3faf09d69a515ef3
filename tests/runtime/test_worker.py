"""A forked task process: its exit code, its pipes and environment, its signal handling, and its process group.

The local runtime forks tasks with the task layer's primitives (`flowkit.task.watchdog`); these tests pin what the
scheduler relies on, including where a local task differs from a pod's supervised one: a pod's supervisor forwards
SIGHUP, so its task handles SIGHUP the default way, while a local task keeps the disposition it inherits (ignored
under ``nohup``).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from flowkit.runtime.worker import TaskProcess, fork_task
from flowkit.task.watchdog import ChildExit, supervise
from tests.runtime.test_retry_timeout_catch import _alive


def _read_all(fd: int) -> str:
    os.set_blocking(fd, True)
    chunks = []
    while chunk := os.read(fd, 1 << 16):
        chunks.append(chunk)
    return b"".join(chunks).decode()


def _finish(process: TaskProcess) -> tuple[int, str, str]:
    """Exit code, stdout and stderr of a task that writes little (so reading one pipe, then the other, is safe)."""
    stdout, stderr = _read_all(process.stdout_fd), _read_all(process.stderr_fd)
    exit_code = process.wait()
    process.close()
    return exit_code, stdout, stderr


def _raise() -> None:
    raise ValueError("bad input in the step")


def _exit_three() -> None:
    sys.exit(3)


def _terminate_self() -> None:
    os.kill(os.getpid(), signal.SIGTERM)


@pytest.mark.parametrize(
    ("run_task", "expected"),
    [(lambda: None, 0), (lambda: 5, 5), (_raise, 1), (_exit_three, 3), (_terminate_self, -signal.SIGTERM)],
    ids=["returns", "returns-an-int", "raises", "sys-exit", "sigterm"],
)
def test_the_exit_code_says_how_the_task_ended(run_task: Callable[[], object], expected: int) -> None:
    exit_code, _, stderr = _finish(fork_task(run_task, {}))
    assert exit_code == expected
    assert ("ValueError: bad input in the step" in stderr) == (run_task is _raise)


def test_the_task_writes_to_its_pipes_and_sees_its_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("FLOWKIT_WORKER_TEST", raising=False)

    def run_task() -> None:
        print("value", os.environ["FLOWKIT_WORKER_TEST"])
        print("to stderr", file=sys.stderr)
        os.write(1, b"from fd 1\n")
        subprocess.run(["echo", "from a subprocess"], check=True)
        assert sys.stdin.read() == ""

    exit_code, stdout, stderr = _finish(fork_task(run_task, {"FLOWKIT_WORKER_TEST": "x y"}))
    assert exit_code == 0, stderr
    assert stdout == "value x y\nfrom fd 1\nfrom a subprocess\n"
    assert stderr == "to stderr\n"
    assert "FLOWKIT_WORKER_TEST" not in os.environ


@pytest.fixture
def parent_signal_handlers() -> Iterator[None]:
    """In this process: SIGHUP ignored (as under ``nohup``), and Python handlers for SIGTERM and SIGPIPE."""
    if threading.current_thread() is not threading.main_thread():
        pytest.skip("signal handlers can only be set from the main thread")
    numbers = (signal.SIGHUP, signal.SIGTERM, signal.SIGPIPE)
    previous = {number: signal.getsignal(number) for number in numbers}
    signal.signal(signal.SIGHUP, signal.SIG_IGN)
    for number in (signal.SIGTERM, signal.SIGPIPE):
        signal.signal(number, lambda _number, _frame: None)
    try:
        yield
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)


@pytest.mark.usefixtures("parent_signal_handlers")
def test_the_task_handles_signals_the_default_way_but_inherits_an_ignored_sighup() -> None:
    def run_task() -> None:
        for number in (signal.SIGINT, signal.SIGTERM, signal.SIGCHLD, signal.SIGPIPE, signal.SIGHUP):
            print(signal.Signals(number).name, signal.getsignal(number))

    exit_code, stdout, stderr = _finish(fork_task(run_task, {}))
    assert exit_code == 0, stderr
    assert stdout.splitlines() == [
        f"SIGINT {signal.SIG_DFL!s}",
        f"SIGTERM {signal.SIG_DFL!s}",
        f"SIGCHLD {signal.SIG_DFL!s}",
        f"SIGPIPE {signal.SIG_DFL!s}",
        f"SIGHUP {signal.SIG_IGN!s}",  # !s: print() writes str(), which format() was not before 3.11
    ]


def test_kill_stops_the_task_and_what_it_started() -> None:
    def run_task() -> None:
        helper = subprocess.Popen(["sleep", "60"])
        print(os.getpgid(0) == os.getpid(), helper.pid, flush=True)
        helper.wait()

    process = fork_task(run_task, {})
    try:
        os.set_blocking(process.stdout_fd, True)
        leads_its_group, helper_pid = os.read(process.stdout_fd, 100).decode().split()
    finally:
        process.kill()
        exit_code = process.wait()
        process.close()
    assert leads_its_group == "True"
    assert exit_code == -signal.SIGKILL
    deadline = time.monotonic() + 10  # SIGKILL is delivered at once, but the helper may take a moment to exit
    while _alive(int(helper_pid)) and time.monotonic() < deadline:
        time.sleep(0.01)
    assert not _alive(int(helper_pid)), "the task's own child dies with its process group"


@pytest.mark.usefixtures("parent_signal_handlers")
def test_a_pod_supervised_task_handles_sighup_the_default_way_as_its_supervisor_forwards_it() -> None:
    def run_task() -> int:
        forwarded = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
        return 0 if all(signal.getsignal(number) == signal.SIG_DFL for number in forwarded) else 9

    assert supervise(run_task, None) == ChildExit(0, False, None)


FORKED_STORE_AND_LOAD = """
import os, sys
from flowkit.datastore import DataStore
from flowkit.runtime.worker import forking_context, fork_task

def store_and_load():
    before = set(sys.modules)
    store = DataStore(sys.argv[1])
    store.load_artifact(store.put_artifact({"a": [1, 2]}), artifact="a", task="probe")
    print(sorted(set(sys.modules) - before))

with forking_context():
    process = fork_task(store_and_load, {})
    os.set_blocking(process.stdout_fd, True)
    print(os.read(process.stdout_fd, 1 << 16).decode(), end="")
    sys.exit(process.wait())
"""


def test_a_task_forked_in_a_forking_context_stores_and_loads_an_artifact_without_importing(tmp_path: Path) -> None:
    """What every task needs is imported once, by the scheduler, not again by each of a wide foreach's tasks (a
    fresh interpreter: this one may have imported anything already)."""
    result = subprocess.run(
        [sys.executable, "-c", FORKED_STORE_AND_LOAD, str(tmp_path)], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]", "imported in the task rather than before the fork"
