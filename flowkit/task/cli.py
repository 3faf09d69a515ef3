"""``python -m flowkit.task``: run one task from a bare command line (an Argo pod, a conda interpreter).

The command line is parsed by `flowkit.invocation.TaskInvocation`, the same type the schedulers build it with
(argparse, not the flow CLI's click: a pod starts this once per task, so it imports only what running the task
needs). ``main(argv, flow_cls=...)`` is the same entry point for a caller that already holds the class (the code
package bootstrap unpickles it).

The task runs in a forked child that this process supervises (`flowkit.task.watchdog`), as the local scheduler
supervises its tasks: the step's ``@timeout`` is enforced here, and a task that dies without committing (timeout,
signal, ``os._exit``) gets its record from ``record_process_failure``, so ``@catch`` and retries behave in a pod
exactly as in a local run. Argo's ``activeDeadlineSeconds`` (the timeout plus a grace period) is only a backstop.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

from flowkit.datastore import DataStore, TaskRecord
from flowkit.datastore.atomic import ensure_dir
from flowkit.errors import EXIT_DATASTORE_UNWRITABLE, EXIT_STORAGE, FlowkitError, StorageError
from flowkit.identity import TaskRef
from flowkit.invocation import TaskInvocation
from flowkit.task.tee import tee_output
from flowkit.task.watchdog import ChildExit, death_reason, die_with_supervisor, supervise

if TYPE_CHECKING:
    from flowkit.authoring.flow import Flow


def main(argv: Sequence[str] | None = None, flow_cls: type[Flow] | None = None) -> int:
    """Run the task described by ``argv``; 0 when it succeeded (or ``@catch`` caught its failure), 1 when it failed,
    2 on bad arguments, 128 + N when this process was stopped by signal N (nothing is recorded then),
    ``EXIT_STORAGE`` (74) when the datastore's storage is full, and 77 when the datastore may not be written
    (permissions, read-only; checked first by creating the task's directory, and again on every later write): a
    setup problem that retrying cannot fix, explained in one line with the fix, which the retryStrategy excludes."""
    try:
        invocation = TaskInvocation.from_argv(argv)
        if flow_cls is None:
            if not invocation.flow:
                raise FlowkitError("--flow is required")
            flow_cls = load_flow_class(invocation.flow)
        task = invocation.task_ref(flow_cls.__name__)
        timeout = _step_timeout(flow_cls, task)
    except (FlowkitError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    if invocation.lifeline_fd is not None:
        die_with_supervisor(invocation.lifeline_fd)
    store = DataStore(invocation.datastore_root)
    try:
        ensure_dir(store.task_dir(task))
        attempt = _unused_attempt(store, task, invocation.attempt_number)
    except StorageError as error:
        return _report_storage_failure(error)
    invocation = invocation._replace(attempt=attempt)
    run = partial(_run_task, flow_cls, store, task, invocation)
    try:
        with tee_output(store, task, attempt, enabled=invocation.tee_logs):
            child = supervise(run, timeout)
            if child.exit_code in (EXIT_STORAGE, EXIT_DATASTORE_UNWRITABLE):
                return child.exit_code  # the child said why on stderr; a record cannot be written either
            if attempt in store.list_attempts(task):
                record = store.read_record(task, attempt)
            elif child.stopped_by is not None:  # stopped from outside (the pod was deleted): a lost attempt
                return 128 + child.stopped_by
            else:
                record = _record_death(flow_cls, store, task, invocation, child, timeout)
    except FlowkitError as error:
        return _report_failure(error)
    return 0 if record.succeeded else 1


def _report_failure(error: FlowkitError) -> int:
    """One line on stderr and the exit status: a datastore's storage refusal has its own (below); any other refusal
    is a bad invocation."""
    if isinstance(error, StorageError):
        return _report_storage_failure(error)
    print(f"error: {error}", file=sys.stderr)
    return 2


def _unused_attempt(store: DataStore, task: TaskRef, attempt: int) -> int:
    """``attempt``, or the next number after the task's committed attempts when ``attempt`` is already committed.

    `argo retry` runs a failed step again with Argo's retry counter back at 0, while records 0, 1, ... of the first
    run are still there and are never replaced. The re-run therefore takes the next free number: it commits, and as
    the highest attempt it is the one the next steps read.
    """
    committed = store.list_attempts(task)
    return attempt if attempt not in committed else committed[-1] + 1


def _report_storage_failure(error: StorageError) -> int:
    """One line on stderr and the exit status, the same whether the task's first write or a later one was refused.

    A datastore the pod may not write gets the line that names its owner, the pod's user and groups and the fix. A
    permanent refusal (permissions, read-only) exits with the status the retryStrategy excludes, since every retry
    would meet it again; a full disk exits with ``EXIT_STORAGE``, which is retried, since space may free up.
    """
    from flowkit.packaging.bootstrap_script import unwritable_message

    cause = error.__cause__
    if error.permanent and isinstance(cause, OSError):
        print(unwritable_message(cause), file=sys.stderr)
        return EXIT_DATASTORE_UNWRITABLE
    print(f"error: {error}", file=sys.stderr)
    return EXIT_STORAGE


def _run_task(flow_cls: type[Flow], store: DataStore, task: TaskRef, invocation: TaskInvocation) -> int:
    """In the supervised child: run the task and report a failure on stderr; the outcome is in the commit record."""
    from flowkit.task.executor import execute_task

    try:
        result = execute_task(
            flow_cls,
            store.root,
            task,
            attempt=invocation.attempt_number,
            parameters=dict(invocation.params) or None,
            split_output=invocation.split_output,
            workflow_status=invocation.workflow_status,
            max_num_splits=invocation.max_num_splits,
            branch_output=invocation.branch_output,
        )
    except FlowkitError as error:  # the task could not start, or could not commit
        return _report_failure(error)
    failure = result.record.error
    if not result.succeeded and failure is not None:
        print(f"Task {task} failed:\n{failure.traceback}", file=sys.stderr, end="", flush=True)
    return 0 if result.succeeded else 1


def _record_death(
    flow_cls: type[Flow],
    store: DataStore,
    task: TaskRef,
    invocation: TaskInvocation,
    child: ChildExit,
    timeout: float | None,
) -> TaskRecord:
    """The task process died before committing: commit its failed record (or, with ``@catch``, the caught one)."""
    from flowkit.task.executor import record_process_failure, write_split_list

    reason = death_reason(child.exit_code, timeout, child.timed_out)
    print(f"Task {task}: {reason}", file=sys.stderr, flush=True)
    attempt = invocation.attempt_number
    record = record_process_failure(store.root, task, attempt, child.exit_code, reason, flow_cls).record
    if record.succeeded and record.num_splits is not None and invocation.split_output:
        # A caught foreach step fans out over nothing; Argo's withParam still needs the (empty) list.
        write_split_list(invocation.split_output, record.num_splits)
    return record


def _step_timeout(flow_cls: type[Flow], task: TaskRef) -> float | None:
    """The step's resolved ``@timeout`` in seconds; an unknown step or an invalid flow fails here, before forking."""
    from flowkit.specs import resolve_step_specs

    spec = resolve_step_specs(flow_cls).get(task.step)
    if spec is None:
        raise FlowkitError(f"{task.flow} has no step {task.step!r} (task {task})")
    return None if spec.timeout is None else spec.timeout.total_seconds


def load_flow_class(target: str) -> type[Flow]:
    """Import ``module:Class`` or ``path/to/file.py:Class`` (the file's folder becomes importable, as with python).

    A pod's bootstrap hands `main` the class instead, so importlib is imported here rather than at every task start."""
    import importlib
    import importlib.util

    from flowkit.authoring.flow import Flow

    module_part, _, class_path = target.partition(":")
    if not module_part or not class_path:
        raise FlowkitError(f"--flow must look like 'module:Class' or 'file.py:Class', got {target!r}")
    if module_part.endswith(".py") or "/" in module_part:
        path = Path(module_part).resolve()
        if not path.is_file():
            raise FlowkitError(f"--flow: no such file {module_part}")
        sys.path.insert(0, str(path.parent))
        spec = importlib.util.spec_from_file_location(path.stem, path)
        if spec is None or spec.loader is None:
            raise FlowkitError(f"--flow: cannot import {module_part}")
        module = importlib.util.module_from_spec(spec)
        sys.modules[path.stem] = module
        spec.loader.exec_module(module)
    else:
        if "" not in sys.path:
            sys.path.insert(0, "")
        module = importlib.import_module(module_part)
    found: object = module
    for name in class_path.split("."):
        found = getattr(found, name, None)
    if not (isinstance(found, type) and issubclass(found, Flow)):
        raise FlowkitError(f"--flow: {module_part} has no Flow subclass named {class_path!r}")
    return found
