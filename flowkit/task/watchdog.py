"""Running a task in a forked child of its own process group, under a deadline, and naming how it died.

The local scheduler enforces ``@timeout`` by killing an overdue task's process group and then committing the
record the task could not write (``record_process_failure``), which is what lets ``@catch`` turn a timeout into a
succeeded task. In an Argo pod nothing plays that part: Argo's ``activeDeadlineSeconds`` kills the whole pod, so no
record is written at all. The pod's entry point therefore supervises its task the same way, with these primitives;
they live in the task layer so that the local runtime can share them (the task layer never imports the runtime).
"""

from __future__ import annotations

import _thread
import contextlib
import os
import select
import signal
import sys
import threading
import time
import warnings
from collections.abc import Callable, Iterator
from typing import NamedTuple, NoReturn

from flowkit.errors import StorageError

FORWARDED_SIGNALS = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)
"""Signals the supervisor passes on to the task: a pod being stopped stops its task, and the task may clean up."""
CHILD_DEFAULT_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGCHLD, signal.SIGPIPE)
"""Signals a forked child handles the default way, whatever its parent did: Python's KeyboardInterrupt handler and
ignored SIGPIPE, or a scheduler's own handlers, are not the task's. Others (SIGHUP ignored under ``nohup``) are
inherited, as by any child process."""
_POLL_SECONDS = 0.05
"""How often to look for the child's exit where there is no pidfd (not Linux >= 5.3)."""


class ChildExit(NamedTuple):
    """How a supervised child ended."""

    exit_code: int
    """The child's exit status; negative (-signal) when a signal killed it."""
    timed_out: bool
    """The supervisor killed it at the deadline."""
    stopped_by: int | None
    """A signal the supervisor itself received (and forwarded): the task was asked to stop, it did not fail."""


def fork_child(
    run_task: Callable[[], object], prepare: Callable[[], None] | None = None, *, silence_thread_warning: bool = False
) -> int:
    """Fork a child that leads a new process group, calls ``prepare()`` then ``run_task()``, and exits; its pid.

    The child exits with ``run_task()``'s result when that is an int, 0 when it returns anything else, the code
    given to ``sys.exit``, or 1 if ``prepare`` or ``run_task`` raised; it never returns into the caller's code. Its
    own process group lets whoever supervises it kill everything the task started (`kill_process_group`).
    ``prepare`` is the caller's setup of the child (its descriptors, streams, environment, extra signal handling),
    run after `CHILD_DEFAULT_SIGNALS` are reset.

    ``silence_thread_warning`` hides Python >= 3.12's warning about forking a process that runs threads, for a caller
    whose threads take no lock the child needs (the pod supervisor's log copies). It is off by default: saving and
    restoring the warning filters around the fork writes to memory pages the fork has just made copy-on-write,
    about 0.1 ms a fork, which a caller forking every task of a run should not pay for nothing.
    """
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()  # or the child would print the parent's buffered text again
    if silence_thread_warning:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=".*fork.*", category=DeprecationWarning)
            pid = os.fork()
    else:
        pid = os.fork()
    if pid == 0:
        _run_child(run_task, prepare)
    # Also done by the child: whichever runs first wins the race. Not contextlib.suppress: every page the parent
    # writes after a fork costs a copy-on-write fault, and its objects and methods are a few more pages a fork.
    try:  # noqa: SIM105
        os.setpgid(pid, pid)
    except (PermissionError, ProcessLookupError):
        pass
    return pid


def _run_child(run_task: Callable[[], object], prepare: Callable[[], None] | None) -> NoReturn:
    exit_code = 1
    try:
        os.setpgid(0, 0)
        for signal_number in CHILD_DEFAULT_SIGNALS:
            signal.signal(signal_number, signal.SIG_DFL)
        if prepare is not None:
            prepare()
        result = run_task()
        exit_code = result if isinstance(result, int) else 0
    except SystemExit as stop:
        exit_code = stop.code if isinstance(stop.code, int) else 1
    except StorageError as error:  # the datastore's disk, not a bug: one line, and the status that says so
        print(f"error: {error}", file=sys.stderr)
        exit_code = error.exit_code
    except BaseException:
        import traceback  # only for a crash: every task start would pay for it (and for textwrap) otherwise

        traceback.print_exc()
    finally:
        for stream in (sys.stdout, sys.stderr):
            with contextlib.suppress(Exception):
                stream.flush()
        os._exit(exit_code)


def kill_process_group(pid: int) -> None:
    """SIGKILL the process group that ``pid`` leads: the task and whatever it started."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGKILL)


def reap(pid: int) -> int:
    """Wait for child ``pid`` to exit (after `kill_process_group`, at once); its exit code, -signal if killed."""
    return os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1])


def poll_exit(pid: int) -> int | None:
    """Reap child ``pid`` if it has exited and return its exit code (-signal if killed); None while it runs."""
    reaped, status = os.waitpid(pid, os.WNOHANG)
    return os.waitstatus_to_exitcode(status) if reaped else None


def open_exit_fd(pid: int) -> int | None:
    """A descriptor that becomes readable once process ``pid`` exits (a Linux pidfd), for ``select`` to wake on.

    None where there is no pidfd (not Linux >= 5.3): the caller then polls. The caller closes the descriptor.
    """
    try:
        return os.pidfd_open(pid)
    except (AttributeError, OSError):
        return None


def wait_for_exit(pid: int, timeout_seconds: float | None) -> int | None:
    """Reap child ``pid`` and return its exit code (-signal if killed); None if it still runs after the timeout."""
    if timeout_seconds is None:
        return reap(pid)
    deadline = time.monotonic() + timeout_seconds
    exit_fd = open_exit_fd(pid)
    try:
        while True:
            exit_code = poll_exit(pid)
            if exit_code is not None:
                return exit_code
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return None
            if exit_fd is not None:
                select.select([exit_fd], [], [], remaining)  # readable once the child exits
            else:
                time.sleep(min(remaining, _POLL_SECONDS))
    finally:
        if exit_fd is not None:
            os.close(exit_fd)


def supervise(run_task: Callable[[], object], timeout_seconds: float | None) -> ChildExit:
    """Run ``run_task()`` in a forked child (see `fork_child`), killing its process group after the timeout.

    While it runs, SIGTERM, SIGINT and SIGHUP sent to this process are passed on to the child's group. If this
    process dies first (a scheduler killed it), the child notices through a pipe whose write end only this process
    holds and kills its own group, so a task can never outlive its supervisor and commit a record behind its back.
    """
    lifeline_read, lifeline_write = os.pipe()

    def prepare() -> None:
        for signal_number in FORWARDED_SIGNALS:  # a forwarded signal has its default effect on the task
            signal.signal(signal_number, signal.SIG_DFL)
        os.close(lifeline_write)
        die_with_supervisor(lifeline_read)

    pid = fork_child(run_task, prepare, silence_thread_warning=True)  # the log copies' pumps are threads
    os.close(lifeline_read)
    received: list[int] = []

    def forward(signal_number: int, _frame: object) -> None:
        received.append(signal_number)
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pid, signal_number)

    try:
        with _signals_handled_by(forward):
            exit_code = wait_for_exit(pid, timeout_seconds)
            if exit_code is None:
                kill_process_group(pid)
                return ChildExit(reap(pid), True, _first(received))
            return ChildExit(exit_code, False, _first(received))
    finally:
        os.close(lifeline_write)


def _first(received: list[int]) -> int | None:
    return received[0] if received else None


@contextlib.contextmanager
def _signals_handled_by(handler: Callable[[int, object], None]) -> Iterator[None]:
    """Install ``handler`` for the forwarded signals, then restore the previous handlers.

    Only the main thread may set handlers; from another thread the signals keep their current handling.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {signal_number: signal.signal(signal_number, handler) for signal_number in FORWARDED_SIGNALS}
    try:
        yield
    finally:
        for signal_number, old in previous.items():
            signal.signal(signal_number, old)


def die_with_supervisor(lifeline: int) -> None:
    """In the child: a thread waits for end-of-file on ``lifeline`` (the supervisor is gone), then kills the group."""

    def watch() -> None:
        try:
            while os.read(lifeline, 1):
                pass
        except OSError:  # the task closed the descriptor itself: it can no longer be watched
            return
        os.killpg(0, signal.SIGKILL)

    # A bare thread, not `threading.Thread`: its start() blocks until the new thread has run (a context switch and
    # a handover of the interpreter lock, ~0.4 ms of every short task's wall time). Nothing is lost by not waiting:
    # an end-of-file that comes before the watcher reads stays in the pipe, and the watcher kills the group then.
    _thread.start_new_thread(watch, ())


def death_reason(exit_code: int, timeout_seconds: float | None, timed_out: bool) -> str:
    """Why a task process ended without committing its record, as its failed record and the logs say it."""
    if timed_out:
        return f"timed out after {timeout_seconds:g} seconds (@timeout); the task's processes were killed"
    if exit_code < 0:
        try:
            name = signal.Signals(-exit_code).name
        except ValueError:
            name = f"signal {-exit_code}"
        return f"the task process was killed by {name}"
    return f"the task process exited with code {exit_code} before committing its result"
