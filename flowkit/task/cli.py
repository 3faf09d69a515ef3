"""``python -m flowkit.task``: run one task from a bare command line (an Argo pod, a conda interpreter).

Uses argparse, not the flow CLI's click: a pod starts this once per task, so it imports only what running the task
needs. ``main(argv, flow_cls=...)`` is the same entry point for a caller that already holds the class (the code
package bootstrap unpickles it).

The task runs in a forked child that this process supervises (`flowkit.task.watchdog`), as the local scheduler
supervises its tasks: the step's ``@timeout`` is enforced here, and a task that dies without committing (timeout,
signal, ``os._exit``) gets its record from ``record_process_failure``, so ``@catch`` and retries behave in a pod
exactly as in a local run. Argo's ``activeDeadlineSeconds`` (the timeout plus a grace period) is only a backstop.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import json
import sys
from collections.abc import Sequence
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

from flowkit.datastore import DataStore, TaskCoordinates, TaskRecord, parse_index_path
from flowkit.datastore.atomic import write_file_atomically
from flowkit.errors import EXIT_STORAGE, FlowkitError, StorageError
from flowkit.task.tee import tee_output
from flowkit.task.watchdog import ChildExit, death_reason, supervise

if TYPE_CHECKING:
    from flowkit.authoring.flow import Flow


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m flowkit.task", description="Run one task of a flowkit flow.")
    parser.add_argument("--datastore-root", help="datastore root (default: $FLOWKIT_DATASTORE_ROOT or ./.flowkit)")
    parser.add_argument("--flow", help="the flow class: 'package.module:Class' or 'path/to/file.py:Class'")
    parser.add_argument("--run-id", required=True)
    parser.add_argument("--step", required=True)
    parser.add_argument("--index-path", default="", help="foreach positions, dot-joined ('3.1'; '' for none)")
    parser.add_argument("--attempt", type=int, default=0)
    parser.add_argument("--param", action="append", default=[], metavar="NAME=JSON", help="a parameter (start only)")
    parser.add_argument("--split-output", help="foreach step: write the JSON list of split indices here")
    parser.add_argument("--workflow-status", help="exit-handler step: the workflow's final status")
    parser.add_argument("--max-num-splits", type=int, help="foreach step: fail if it yields more splits than this")
    parser.add_argument("--tee-logs", action="store_true", help="also copy stdout/stderr into the datastore")
    return parser


def main(argv: Sequence[str] | None = None, flow_cls: type[Flow] | None = None) -> int:
    """Run the task described by ``argv``; 0 when it succeeded (or ``@catch`` caught its failure), 1 when it failed,
    2 on bad arguments, 128 + N when this process was stopped by signal N (nothing is recorded then), and
    ``EXIT_STORAGE`` (74) when the datastore's storage refused a write or read (full, read-only, not ours)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        if flow_cls is None:
            if not args.flow:
                parser.error("--flow is required")
            flow_cls = load_flow_class(args.flow)
        coords = TaskCoordinates(flow_cls.__name__, args.run_id, args.step, parse_index_path(args.index_path))
        parameters = _parse_params(args.param) if args.param else None
        timeout = _step_timeout(flow_cls, coords)
    except (FlowkitError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    store = DataStore(args.datastore_root)
    task = partial(_run_task, flow_cls, store, coords, args, parameters)
    try:
        with tee_output(store, coords, args.attempt, enabled=args.tee_logs):
            child = supervise(task, timeout)
            if child.exit_code == EXIT_STORAGE:  # the child said why on stderr; a record cannot be written either
                return EXIT_STORAGE
            if args.attempt in store.list_attempts(coords):
                record = store.read_record(coords, args.attempt)
            elif child.stopped_by is not None:  # stopped from outside (the pod was deleted): a lost attempt
                return 128 + child.stopped_by
            else:
                record = _record_death(flow_cls, store, coords, args, child, timeout)
    except FlowkitError as error:
        print(f"error: {error}", file=sys.stderr)
        return _exit_status(error)
    return 0 if record.succeeded else 1


def _exit_status(error: FlowkitError) -> int:
    """A full, read-only or foreign datastore has its own status; any other refusal is a bad invocation."""
    return EXIT_STORAGE if isinstance(error, StorageError) else 2


def _run_task(
    flow_cls: type[Flow],
    store: DataStore,
    coords: TaskCoordinates,
    args: argparse.Namespace,
    parameters: dict[str, str] | None,
) -> int:
    """In the supervised child: run the task and report a failure on stderr; the outcome is in the commit record."""
    from flowkit.task.executor import execute_task

    try:
        result = execute_task(
            flow_cls,
            store.root,
            coords,
            attempt=args.attempt,
            parameters=parameters,
            split_output=args.split_output,
            workflow_status=args.workflow_status,
            max_num_splits=args.max_num_splits,
        )
    except FlowkitError as error:  # the task could not start, or could not commit
        print(f"error: {error}", file=sys.stderr)
        return _exit_status(error)
    failure = result.record.error
    if not result.succeeded and failure is not None:
        print(f"Task {coords} failed:\n{failure.traceback}", file=sys.stderr, end="", flush=True)
    return 0 if result.succeeded else 1


def _record_death(
    flow_cls: type[Flow],
    store: DataStore,
    coords: TaskCoordinates,
    args: argparse.Namespace,
    child: ChildExit,
    timeout: float | None,
) -> TaskRecord:
    """The task process died before committing: commit its failed record (or, with ``@catch``, the caught one)."""
    from flowkit.task.executor import record_process_failure

    reason = death_reason(child.exit_code, timeout, child.timed_out)
    print(f"Task {coords}: {reason}", file=sys.stderr, flush=True)
    record = record_process_failure(store.root, coords, args.attempt, child.exit_code, reason, flow_cls).record
    if record.succeeded and record.num_splits is not None and args.split_output:
        # A caught foreach step fans out over nothing; Argo's withParam still needs the (empty) list.
        write_file_atomically(Path(args.split_output), json.dumps(list(range(record.num_splits))).encode())
    return record


def _step_timeout(flow_cls: type[Flow], coords: TaskCoordinates) -> float | None:
    """The step's resolved ``@timeout`` in seconds; an unknown step or an invalid flow fails here, before forking."""
    from flowkit.specs import resolve_step_specs

    spec = resolve_step_specs(flow_cls).get(coords.step)
    if spec is None:
        raise FlowkitError(f"{coords.flow} has no step {coords.step!r} (task {coords})")
    return None if spec.timeout is None else spec.timeout.total_seconds


def load_flow_class(target: str) -> type[Flow]:
    """Import ``module:Class`` or ``path/to/file.py:Class`` (the file's folder becomes importable, as with python)."""
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


def _parse_params(pairs: list[str]) -> dict[str, str]:
    parameters = {}
    for pair in pairs:
        name, separator, value = pair.partition("=")
        if not separator or not name:
            raise ValueError(f"--param takes NAME=JSON, got {pair!r}")
        parameters[name] = value
    return parameters
