"""``python -m flowkit.task``: run one task from a bare command line (an Argo pod, a conda interpreter).

Uses argparse, not the flow CLI's click: a pod starts this once per task, so it imports only what running the task
needs. ``main(argv, flow_cls=...)`` is the same entry point for a caller that already holds the class (the code
package bootstrap unpickles it).
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from flowkit.datastore import DataStore, TaskCoordinates, parse_index_path
from flowkit.errors import FlowkitError
from flowkit.task.tee import tee_output

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
    parser.add_argument("--tee-logs", action="store_true", help="also copy stdout/stderr into the datastore")
    return parser


def main(argv: Sequence[str] | None = None, flow_cls: type[Flow] | None = None) -> int:
    """Run the task described by ``argv``; 0 when it succeeded, 1 when it failed, 2 on bad arguments."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        if flow_cls is None:
            if not args.flow:
                parser.error("--flow is required")
            flow_cls = load_flow_class(args.flow)
        coords = TaskCoordinates(flow_cls.__name__, args.run_id, args.step, parse_index_path(args.index_path))
        parameters = _parse_params(args.param) if args.param else None
    except (FlowkitError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    store = DataStore(args.datastore_root)
    with tee_output(store, coords, args.attempt, enabled=args.tee_logs):
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
            )
        except FlowkitError as error:  # the task could not even start (unknown step, invalid flow)
            print(f"error: {error}", file=sys.stderr)
            return 2
        failure = result.record.error
        if not result.succeeded and failure is not None:
            print(f"Task {coords} failed:\n{failure.traceback}", file=sys.stderr, end="", flush=True)
    return 0 if result.succeeded else 1


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
