"""How the local runtime starts one task attempt and learns its outcome.

`TaskLauncher` is the bridge between the scheduler (which only knows tasks and processes) and the layers that
run a task: it forks `flowkit.task.executor.execute_task` (or spawns the step's own
interpreter for `--environment conda`), captures output through the datastore's log writers, and turns a process
that died without committing into a failed record via `record_process_failure`.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Mapping
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

from flowkit.datastore import AlreadyCommittedError, DataStore, LogWriter, TaskRecord
from flowkit.errors import EXIT_DATASTORE_UNWRITABLE, EXIT_STORAGE, FlowkitError
from flowkit.identity import TaskRef
from flowkit.runtime.worker import TaskProcess, fork_task, spawn_task
from flowkit.settings import ENVIRONMENT_ID
from flowkit.task.watchdog import death_reason

if TYPE_CHECKING:
    from flowkit.environments.local import LocalEnvironment
    from flowkit.specs import StepSpec


class StorageStoppedRun(FlowkitError):
    """A task process ended with ``EXIT_STORAGE`` or ``EXIT_DATASTORE_UNWRITABLE``: the datastore's storage refused
    it, so the run stops there (with ``EXIT_STORAGE``, as every local command a storage failure stops)."""

    exit_code = EXIT_STORAGE


class TaskLauncher:
    """Starts the attempts of one run's tasks, all with the same flow and datastore."""

    def __init__(
        self,
        flow_cls: type,
        store: DataStore,
        specs: Mapping[str, StepSpec],
        *,
        parameters: Mapping[str, str],
        use_conda: bool = False,
        workflow_status: str | None = None,
        max_num_splits: int | None = None,
        run_environment: Mapping[str, str] | None = None,
        start_step: str = "start",
    ) -> None:
        """`run_environment`: variables every task of the run gets (its `RunContext`); a step's `@environment` wins."""
        self.flow_cls = flow_cls
        self.store = store
        self.specs = specs
        self.parameters = dict(parameters)
        self.use_conda = use_conda
        self.workflow_status = workflow_status
        self.max_num_splits = max_num_splits
        self.run_environment = dict(run_environment or {})
        self.start_step = start_step
        """The step whose task receives the run's parameters."""
        self._logs: dict[tuple[TaskRef, int], dict[str, LogWriter]] = {}
        self._environments: dict[str, LocalEnvironment] = {}  # per step: resolved once, reused by every task

    def start(self, task: TaskRef, attempt: int) -> TaskProcess:
        """Start `attempt` of `task` in its own process."""
        spec = self.specs[task.step]
        environment = {**self.run_environment, **spec.environment_vars}
        if self.use_conda and spec.conda is not None:
            process = self._spawn_in_environment(task, attempt, spec, environment)
        else:
            from flowkit.task.executor import execute_task

            run = partial(
                execute_task,
                self.flow_cls,
                self.store,  # forked: the task reads what this store knows (the clones of a resume) from memory
                task,
                attempt=attempt,
                parameters=self.parameters if task.step == self.start_step else None,
                workflow_status=self.workflow_status,
                max_num_splits=self.max_num_splits,
            )
            process = fork_task(run, environment)
        self._logs[(task, attempt)] = self.store.log_writers(task, attempt)
        return process

    def capture(self, task: TaskRef, attempt: int, stream: str, data: bytes) -> None:
        """Append a chunk of the attempt's output to its log in the datastore."""
        self._logs[(task, attempt)][stream].write(data)

    def outcome(self, task: TaskRef, attempt: int, exit_code: int, *, timed_out: bool) -> TaskRecord:
        """Publish the attempt's logs and return its commit record, writing a failed one if the process left none."""
        for writer in self._logs.pop((task, attempt)).values():
            writer.close()
        record = self.store.committed_record(task, attempt)  # one read, no listing: the attempt is known
        if record is not None:
            return record
        if exit_code in (EXIT_STORAGE, EXIT_DATASTORE_UNWRITABLE):  # a task process in a conda environment
            raise StorageStoppedRun(
                f"task {task} stopped because the datastore's storage refused an operation (its line above says "
                "which); everything committed is kept: fix the storage, then resume"
            )
        from flowkit.task.executor import record_process_failure

        # A process the task left behind may have committed in the meantime: its record is then the outcome.
        with contextlib.suppress(AlreadyCommittedError):
            record_process_failure(
                self.store.root,
                task,
                attempt,
                exit_code,
                death_reason(exit_code, self.timeout_seconds(task), timed_out),
                self.flow_cls,
            )
        return self.store.read_record(task, attempt)

    def timeout_seconds(self, task: TaskRef) -> float | None:
        timeout = self.specs[task.step].timeout
        return None if timeout is None else timeout.total_seconds

    def retry_times(self, task: TaskRef) -> int:
        return self.specs[task.step].retry.times

    def _spawn_in_environment(
        self, task: TaskRef, attempt: int, spec: StepSpec, environment: dict[str, str]
    ) -> TaskProcess:
        from flowkit.environments.local import ensure_local_environment
        from flowkit.invocation import TaskInvocation  # the task command line: only a spawned task has one

        local = self._environments.get(task.step)
        if local is None:
            local = self._environments[task.step] = ensure_local_environment(
                self.flow_cls, spec, datastore_root=self.store.root
            )
        module_name, module_dir = _importable_module(self.flow_cls)
        invocation = TaskInvocation.for_task(
            task,
            attempt,
            datastore_root=str(self.store.root),
            flow=f"{module_name}:{self.flow_cls.__qualname__}",
            params=self.parameters if task.step == self.start_step else {},
            workflow_status=self.workflow_status,
            max_num_splits=self.max_num_splits,
        )
        flowkit_dir = Path(__file__).resolve().parents[2]
        search_path = os.pathsep.join(filter(None, [str(module_dir), str(flowkit_dir), os.environ.get("PYTHONPATH")]))
        environment.update({"PYTHONPATH": search_path, ENVIRONMENT_ID.env_var: local.env_id})
        return spawn_task(invocation.command(str(local.python)), environment)


def _importable_module(flow_cls: type) -> tuple[str, Path]:
    """The module name another interpreter imports the flow by, and the folder that makes it importable."""
    module = sys.modules[flow_cls.__module__]
    source = getattr(module, "__file__", None)
    if source is None:
        raise FlowkitError(f"{flow_cls.__name__} is not defined in a file, so another interpreter cannot import it")
    path = Path(source).resolve()
    name = path.stem if flow_cls.__module__ == "__main__" else flow_cls.__module__
    root = path.parent if flow_cls.__module__ == "__main__" else path.parents[flow_cls.__module__.count(".")]
    return name, root
