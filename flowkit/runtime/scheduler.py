"""The local scheduler: one thread, one loop, many task processes.

Each pass of the loop starts ready tasks up to `max_workers`, waits (with `selectors`) for output on any task's
pipes or the next deadline (a timeout to enforce, the progress line to redraw), kills overdue tasks, and reaps the
ones that exited. A failed attempt is retried at once, ahead of tasks that have not started: as in Metaflow's local
runtime, `minutes_between_retries` is a cluster setting (Argo's backoff) and a local run does not sleep on it.
A task's outcome is read from its commit record, never inferred from the process: a task process that died without
one gets a failed record through `record_process_failure`.
"""

from __future__ import annotations

import os
import selectors
import time
from collections import deque
from typing import TYPE_CHECKING

from flowkit.plain_data import PlainData, field
from flowkit.runtime.launch import TaskLauncher
from flowkit.runtime.output import Progress, RunConsole, TaskOutput
from flowkit.runtime.worker import TaskProcess

if TYPE_CHECKING:
    from flowkit.datastore import TaskRecord
    from flowkit.graph import FlowGraph
    from flowkit.identity import TaskRef
    from flowkit.runtime.resume import TaskReuse

IDLE_WAIT_SECONDS = 0.1
REAP_WAIT_SECONDS = 0.005
READ_BYTES = 1 << 16


class RunningTask(PlainData):
    task: TaskRef
    attempt: int
    process: TaskProcess
    output: TaskOutput
    deadline: float | None
    open_streams: int = 2
    timed_out: bool = False


class RunOutcome(PlainData):
    """What the scheduler learned: tasks that succeeded (with their split counts) and tasks that failed for good."""

    succeeded: dict[TaskRef, int | None] = field(default_factory=dict)
    failed: list[TaskRef] = field(default_factory=list)

    @property
    def successful(self) -> bool:
        return not self.failed


class Scheduler:
    """Runs every task of one run; `reuse` may satisfy a task without running it (resume clones it).

    `reuse` is called with a task that just became ready and its parent tasks, so it can tell whether they were
    reused as well.
    """

    def __init__(
        self,
        graph: FlowGraph,
        launcher: TaskLauncher,
        console: RunConsole,
        progress: Progress,
        *,
        max_workers: int,
        reuse: TaskReuse | None = None,
    ) -> None:
        self.graph = graph
        self.launcher = launcher
        self.console = console
        self.progress = progress
        self.max_workers = max_workers
        self.reuse = reuse
        self.outcome = RunOutcome()
        self.ready: deque[TaskRef] = deque()
        self.known: set[TaskRef] = set()
        self.missing_parents: dict[TaskRef, int] = {}
        self.retries: deque[tuple[TaskRef, int]] = deque()
        """Failed attempts to run again: (task, next attempt), started before any task of `ready`."""
        self.running: dict[int, RunningTask] = {}
        self.selector = selectors.DefaultSelector()

    def run(self, first_tasks: list[TaskRef]) -> RunOutcome:
        """Run from `first_tasks` until every reachable task succeeded, or one failed and the running ones finished."""
        try:
            self._offer(first_tasks)
            while self.ready or self.running or self.retries:
                self._start_ready_tasks()
                self._wait_for_events()
                self._kill_overdue_tasks()
                self._reap_finished_tasks()
                self.console.refresh()
        except BaseException:  # Ctrl-C or a bug: leave no task running (nor a zombie) behind
            for running in self.running.values():
                running.process.kill()
                running.process.wait()
            raise
        finally:
            self.selector.close()
        return self.outcome

    def _offer(self, candidates: list[TaskRef]) -> None:
        """Queue each candidate whose last parent just succeeded (cloning it instead when `reuse` can).

        Every success is counted the moment it is recorded (`_count_arrival`), before the next one is, so the count
        of missing parents stays exact and a join over N foreach tasks costs O(N) rather than O(N^2).

        A resume decides a whole wave of ready tasks (say a foreach's 200) before cloning any of them, and starts the
        ones that must run first: their parents are already committed, so the failed foreach task runs while this
        process links its 199 siblings, rather than after.
        """
        unblocked = [task for task in candidates if self._count_arrival(task)]
        while unblocked:
            reused: list[tuple[TaskRef, TaskRecord]] = []
            for task in unblocked:
                origin = None
                if self.reuse is not None:
                    succeeded = self.outcome.succeeded
                    parents = task.parents(self.graph, succeeded.get, succeeded.__contains__) or []
                    origin = self.reuse.decide(task, parents)
                if origin is None:
                    self.ready.append(task)
                else:
                    reused.append((task, origin))
            if not reused:
                return
            assert self.reuse is not None  # only a resume reuses
            self._start_ready_tasks()
            clones = self.reuse.clone([origin for _, origin in reused])
            unblocked = []
            for (task, _), clone in zip(reused, clones, strict=True):
                self.outcome.succeeded[task] = clone.num_splits
                self.progress.done += 1
                children = task.children(self.graph, clone.num_splits, clone.next_step)
                unblocked.extend(child for child in children if self._count_arrival(child))

    def _count_arrival(self, task: TaskRef) -> bool:
        """Note that one more parent of `task` succeeded; True once, when `task` has become ready."""
        if task in self.known:
            return False
        ready = self._last_parent_arrived(task)
        if ready:
            self.known.add(task)
        return ready

    def _last_parent_arrived(self, task: TaskRef) -> bool:
        missing = self.missing_parents.get(task)
        if missing is None:
            groups = task.parent_groups(self.graph, self.outcome.succeeded.get)
            if groups is None:  # a foreach join whose width is not known yet
                return False
            succeeded = self.outcome.succeeded
            missing = sum(not any(parent in succeeded for parent in group) for group in groups)
        else:
            missing -= 1  # exactly one task of each group arrives
        if missing:
            self.missing_parents[task] = missing
            return False
        self.missing_parents.pop(task, None)
        return True

    def _start_ready_tasks(self) -> None:
        if self.outcome.failed:
            self.ready.clear()
            self.retries.clear()
            self.progress.retrying = 0
        while self.retries and len(self.running) < self.max_workers:
            self.progress.retrying -= 1
            self._start(*self.retries.popleft())
        while self.ready and len(self.running) < self.max_workers:
            self._start(self.ready.popleft(), 0)

    def _start(self, task: TaskRef, attempt: int) -> None:
        process = self.launcher.start(task, attempt)
        timeout = self.launcher.timeout_seconds(task)
        running = RunningTask(
            task=task,
            attempt=attempt,
            process=process,
            output=TaskOutput(prefix=task.label),
            deadline=None if timeout is None else time.monotonic() + timeout,
        )
        self.running[process.pid] = running
        self.selector.register(process.stdout_fd, selectors.EVENT_READ, (running, "out"))
        self.selector.register(process.stderr_fd, selectors.EVENT_READ, (running, "err"))
        if process.exit_fd is not None:
            self.selector.register(process.exit_fd, selectors.EVENT_READ, (running, "exit"))
        self.progress.running += 1

    def _wait_for_events(self) -> None:
        if not self.running:
            return
        for key, _ in self.selector.select(self._wait_seconds()):
            running, stream = key.data
            if stream != "exit":  # an exit is handled by the reaping that follows every wait
                self._read(running, stream, key.fd)

    def _wait_seconds(self) -> float:
        """Until the next deadline; briefly if a task without an exit descriptor closed its pipes (it is exiting)."""
        if any(running.open_streams == 0 and running.process.exit_fd is None for running in self.running.values()):
            return REAP_WAIT_SECONDS
        deadlines = [running.deadline for running in self.running.values() if running.deadline is not None]
        wait = min([*deadlines, time.monotonic() + IDLE_WAIT_SECONDS]) - time.monotonic()
        return max(0.0, wait)

    def _read(self, running: RunningTask, stream: str, fd: int) -> None:
        """Read what is available on one pipe; at end of file stop watching it."""
        while True:
            try:
                data = os.read(fd, READ_BYTES)
            except BlockingIOError:
                return
            if not data:
                self.selector.unregister(fd)
                running.open_streams -= 1
                for line in running.output.finish(stream):
                    self.console.task_line(running.output.prefix, stream, line)
                return
            self.launcher.capture(running.task, running.attempt, stream, data)
            for line in running.output.feed(stream, data):
                self.console.task_line(running.output.prefix, stream, line)

    def _kill_overdue_tasks(self) -> None:
        now = time.monotonic()
        for running in self.running.values():
            if running.deadline is not None and now >= running.deadline and not running.timed_out:
                running.timed_out = True
                running.process.kill()

    def _reap_finished_tasks(self) -> None:
        for pid, running in list(self.running.items()):
            exit_code = running.process.poll()
            if exit_code is None:
                continue
            del self.running[pid]
            self.progress.running -= 1
            self._drain(running)
            self._settle(running, exit_code)

    def _drain(self, running: RunningTask) -> None:
        """Collect output still in the pipes (a process the task spawned may hold them open: stop reading then)."""
        for fd, stream in ((running.process.stdout_fd, "out"), (running.process.stderr_fd, "err")):
            if fd in self.selector.get_map():
                self._read(running, stream, fd)
                if fd in self.selector.get_map():
                    self.selector.unregister(fd)
                    for line in running.output.finish(stream):
                        self.console.task_line(running.output.prefix, stream, line)
        if running.process.exit_fd is not None:
            self.selector.unregister(running.process.exit_fd)
        running.process.close()

    def _settle(self, running: RunningTask, exit_code: int) -> None:
        """Make sure a commit record exists, then retry, fail, or move on."""
        task, attempt = running.task, running.attempt
        record = self.launcher.outcome(task, attempt, exit_code, timed_out=running.timed_out)
        if record.succeeded:
            self.outcome.succeeded[task] = record.num_splits
            self.progress.done += 1
            self._offer(task.children(self.graph, record.num_splits, record.next_step))
            return
        if attempt < self.launcher.retry_times(task) and not self.outcome.failed:
            self.retries.append((task, attempt + 1))
            self.progress.retrying += 1
            self.console.message(f"[{task.label}] attempt {attempt} failed; retrying", error=True)
            return
        self.progress.failed += 1
        self.outcome.failed.append(task)
