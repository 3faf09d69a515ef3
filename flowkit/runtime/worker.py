"""Starting one task attempt in its own process, and stopping it.

A task is forked from the scheduler (which has already imported the flow, so a task starts in about a millisecond
and a class defined in `__main__` or a notebook needs no re-import) or, for a step with its own interpreter (a
conda environment), spawned as `<python> -m flowkit.task ...`. Either way the task leads its own process group, so
a timeout can kill whatever it started, and its stdout/stderr arrive on two pipes the scheduler multiplexes.
"""

from __future__ import annotations

import contextlib
import gc
import importlib
import io
import os
import signal
import subprocess
import sys
import traceback
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import NoReturn


@dataclass
class TaskProcess:
    """A running task process, the read ends of its output pipes, and a descriptor that is readable once it exits.

    `exit_fd` (a Linux pidfd) lets the scheduler's `select` wake up the moment a task exits instead of polling;
    it is None where the platform has no pidfd, and the scheduler then polls.
    """

    pid: int
    stdout_fd: int
    stderr_fd: int
    popen: subprocess.Popen[bytes] | None = None
    exit_fd: int | None = None

    def poll(self) -> int | None:
        """None while running; else the exit code, negative (-signal) if a signal killed it."""
        if self.popen is not None:
            return self.popen.poll()
        pid, status = os.waitpid(self.pid, os.WNOHANG)
        if pid == 0:
            return None
        return os.waitstatus_to_exitcode(status)

    def close(self) -> None:
        """Release the pipes and the exit descriptor (after the process was reaped)."""
        if self.exit_fd is not None:
            os.close(self.exit_fd)
            self.exit_fd = None
        if self.popen is not None:
            for pipe in (self.popen.stdout, self.popen.stderr):
                if pipe is not None:
                    pipe.close()
            return
        for fd in (self.stdout_fd, self.stderr_fd):
            with contextlib.suppress(OSError):
                os.close(fd)

    def wait(self) -> int:
        """Block until the process exits (after `kill`, at once) and return its exit code."""
        if self.popen is not None:
            return self.popen.wait()
        _, status = os.waitpid(self.pid, 0)
        return os.waitstatus_to_exitcode(status)

    def kill(self) -> None:
        """SIGKILL the task's whole process group (what it spawned dies with it)."""
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.pid, signal.SIGKILL)


# Modules every task needs that flowkit imports lazily (to keep `import flowkit` light): imported once before the
# first fork, they are shared by every task instead of imported again in each one (~10 ms a task).
TASK_MODULES = ("cloudpickle", "zstandard")


@contextlib.contextmanager
def forking_context() -> Iterator[None]:
    """Prepare this process to fork many short tasks cheaply, and undo it afterwards.

    Besides preloading TASK_MODULES, `gc.freeze()` moves every existing object out of the collector's reach, so a
    collection in a child does not write to (and so copy) the parent's memory pages; `gc.unfreeze()` restores normal
    collection when the run is over, which matters in a long-lived notebook kernel.
    """
    for module_name in TASK_MODULES:
        with contextlib.suppress(ImportError):
            importlib.import_module(module_name)
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()


def fork_task(run_task: Callable[[], object], environment: Mapping[str, str]) -> TaskProcess:
    """Run `run_task()` in a forked child with `environment` added to its variables.

    The child exits 0 when `run_task` returns (the task's outcome is in its commit record), 1 if it raised, or the
    code passed to `sys.exit`; it never returns into the scheduler's code.
    """
    stdout_read, stdout_write = os.pipe()
    stderr_read, stderr_write = os.pipe()
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()  # or the child would print the parent's buffered text again
    pid = os.fork()
    if pid == 0:
        os.close(stdout_read)
        os.close(stderr_read)
        _run_child(run_task, environment, stdout_write, stderr_write)
    with contextlib.suppress(PermissionError, ProcessLookupError):
        os.setpgid(pid, pid)  # also done by the child: whichever runs first wins the race
    os.close(stdout_write)
    os.close(stderr_write)
    return _readable(TaskProcess(pid, stdout_read, stderr_read))


def spawn_task(argv: Sequence[str], environment: Mapping[str, str]) -> TaskProcess:
    """Run `argv` (another interpreter) as a task process in a new session, sharing no state with the scheduler."""
    popen = subprocess.Popen(
        list(argv),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env={**os.environ, **environment},
        start_new_session=True,
    )
    assert popen.stdout is not None and popen.stderr is not None
    return _readable(TaskProcess(popen.pid, popen.stdout.fileno(), popen.stderr.fileno(), popen))


def _readable(process: TaskProcess) -> TaskProcess:
    os.set_blocking(process.stdout_fd, False)
    os.set_blocking(process.stderr_fd, False)
    try:
        process.exit_fd = os.pidfd_open(process.pid)
    except (AttributeError, OSError):  # not Linux >= 5.3: the scheduler polls instead
        process.exit_fd = None
    return process


def _run_child(
    run_task: Callable[[], object], environment: Mapping[str, str], stdout_fd: int, stderr_fd: int
) -> NoReturn:
    exit_code = 1
    try:
        os.setpgid(0, 0)
        for signal_number in (signal.SIGINT, signal.SIGTERM, signal.SIGCHLD, signal.SIGPIPE):
            signal.signal(signal_number, signal.SIG_DFL)
        _redirect(stdout_fd, stderr_fd)
        os.environ.update(environment)
        run_task()
        exit_code = 0
    except SystemExit as stop:
        exit_code = stop.code if isinstance(stop.code, int) else 1
    except BaseException:
        traceback.print_exc()
    finally:
        for stream in (sys.stdout, sys.stderr):
            with contextlib.suppress(Exception):
                stream.flush()
        os._exit(exit_code)


def _redirect(stdout_fd: int, stderr_fd: int) -> None:
    """Point fds 0/1/2 and sys.std* at the task's pipes (sys.stdout may be a notebook's or pytest's object)."""
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    os.dup2(stdout_fd, 1)
    os.dup2(stderr_fd, 2)
    for fd in (devnull, stdout_fd, stderr_fd):
        os.close(fd)
    sys.stdin = open(0, closefd=False)  # noqa: SIM115 - lives as long as the task process
    sys.stdout = _line_buffered_text(1)
    sys.stderr = _line_buffered_text(2)


def _line_buffered_text(fd: int) -> io.TextIOWrapper:
    return io.TextIOWrapper(
        io.FileIO(fd, "w", closefd=False), encoding="utf-8", errors="backslashreplace", line_buffering=True
    )
