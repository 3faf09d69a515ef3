"""Starting one task attempt in its own process, and stopping it.

A task is forked from the scheduler (which has already imported the flow, so a task starts in about a millisecond
and a class defined in `__main__` or a notebook needs no re-import) or, for a step with its own interpreter (a
conda environment), spawned as `<python> -m flowkit.task ...`. Either way the task leads its own process group, so
a timeout can kill whatever it started, and its stdout/stderr arrive on two pipes the scheduler multiplexes.

Forking, killing and reaping are the task layer's primitives (`flowkit.task.watchdog`), the ones a pod's task
process supervises its task with, so a task is isolated, timed out and reported the same way locally and in a pod.
"""

from __future__ import annotations

import contextlib
import gc
import importlib
import io
import os
import sys
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING

from flowkit.plain_data import PlainData
from flowkit.task.watchdog import die_with_supervisor, fork_child, kill_process_group, open_exit_fd, poll_exit, reap

if TYPE_CHECKING:
    import subprocess


class TaskProcess(PlainData):
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
        return poll_exit(self.pid)

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
        return reap(self.pid)

    def kill(self) -> None:
        """SIGKILL the task's whole process group (what it spawned dies with it)."""
        kill_process_group(self.pid)


# Modules every task needs that flowkit imports lazily (to keep `import flowkit` light): imported once before the
# first fork, they are shared by every task instead of imported again in each one (~10 ms a task). The blob checks
# (`flowkit.datastore.verify`) are loaded by the first artifact a process stores or loads.
TASK_MODULES = ("cloudpickle", "zstandard", "flowkit.datastore.verify")

_lifeline: tuple[int, int] | None = None
"""(read end, write end) of the pipe forked tasks watch while a `forking_context` is open: only the scheduler holds
the write end, so when it dies, however it dies, every task sees end-of-file and kills its own process group."""


@contextlib.contextmanager
def forking_context() -> Iterator[None]:
    """Prepare this process to fork many short tasks cheaply, and undo it afterwards.

    Besides preloading TASK_MODULES (so each forked task inherits them rather than importing them again; what a
    particular flow's tasks need beyond them is prepared by `flowkit.task.executor.prepare_forked_tasks`),
    `gc.freeze()` moves every existing object out of the collector's reach, so a collection in a child does not write
    to (and so copy) the parent's memory pages; `gc.unfreeze()` restores normal collection when the run is over, which
    matters in a long-lived notebook kernel. The lifeline pipe tasks watch (see `_lifeline`) is open for as long as the
    context is.
    """
    global _lifeline
    for module_name in TASK_MODULES:
        with contextlib.suppress(ImportError):
            importlib.import_module(module_name)
    outer = _lifeline
    if outer is None:
        _lifeline = os.pipe()
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()
        if outer is None and _lifeline is not None:
            for fd in _lifeline:
                os.close(fd)
            _lifeline = None


def fork_task(run_task: Callable[[], object], environment: Mapping[str, str]) -> TaskProcess:
    """Run `run_task()` in a forked child (`fork_child`) with its output on two pipes and `environment` added.

    The child exits 0 when `run_task` returns (the task's outcome is in its commit record; `execute_task` returns
    no int), 1 if it raised, or the code passed to `sys.exit`; it never returns into the scheduler's code. Inside a
    `forking_context` it dies, with everything it started, when the scheduler dies.
    """
    stdout_read, stdout_write = os.pipe()
    stderr_read, stderr_write = os.pipe()

    lifeline = _lifeline

    def prepare() -> None:
        os.close(stdout_read)
        os.close(stderr_read)
        _redirect(stdout_write, stderr_write)
        os.environ.update(environment)
        if lifeline is not None:
            os.close(lifeline[1])
            die_with_supervisor(lifeline[0])

    pid = fork_child(run_task, prepare)
    os.close(stdout_write)
    os.close(stderr_write)
    return _readable(TaskProcess(pid=pid, stdout_fd=stdout_read, stderr_fd=stderr_read))


def spawn_task(argv: Sequence[str], environment: Mapping[str, str]) -> TaskProcess:
    """Run `argv` (another interpreter's ``python -m flowkit.task ...``) as a task process in a new session, sharing
    no state with the scheduler; inside a `forking_context` it gets the lifeline too (``--lifeline-fd``)."""
    import subprocess  # only a step in its own interpreter (conda) needs it: forked tasks and a resume do not

    lifeline_options = [] if _lifeline is None else ["--lifeline-fd", str(_lifeline[0])]
    popen = subprocess.Popen(
        [*argv, *lifeline_options],
        pass_fds=() if _lifeline is None else (_lifeline[0],),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env={**os.environ, **environment},
        start_new_session=True,
    )
    assert popen.stdout is not None and popen.stderr is not None
    return _readable(
        TaskProcess(pid=popen.pid, stdout_fd=popen.stdout.fileno(), stderr_fd=popen.stderr.fileno(), popen=popen)
    )


def _readable(process: TaskProcess) -> TaskProcess:
    os.set_blocking(process.stdout_fd, False)
    os.set_blocking(process.stderr_fd, False)
    process.exit_fd = open_exit_fd(process.pid)  # None where there is no pidfd: the scheduler polls instead
    return process


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
