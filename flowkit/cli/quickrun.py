"""`run` without click: the command line every flow run starts from, parsed in a few microseconds.

Importing click and building a flow's group is about a tenth of a short local run (`python myflow.py run`), so a
plain `run` is recognised here first: only the spellings `--option value` of the run command's own options and of
the flow's parameters. Anything else (`--help`, `--opt=value`, an unknown or repeated option, a value click would
reject, shell completion) returns None and goes to click, which parses it or reports the error exactly as before.
Both paths run the flow through `run_locally`, so they cannot drift apart once the arguments are known.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from flowkit.errors import ParameterError, TaskFailedError
from flowkit.runtime import DEFAULT_MAX_NUM_SPLITS

_RUN_OPTIONS = ("--max-workers", "--max-num-splits", "--datastore-root", "--run-id-file", "--environment")
_ENVIRONMENTS = ("local", "conda")


@dataclass
class RunArguments:
    """What `run` was asked to do, as click would have passed it to the run command."""

    parameters: dict[str, Any] = field(default_factory=dict)
    max_workers: int | None = None
    datastore_root: Path | None = None
    run_id_file: Path | None = None
    environment: str = "local"
    max_num_splits: int = DEFAULT_MAX_NUM_SPLITS
    tags: tuple[str, ...] = ()
    branch: str | None = None
    """`--branch` and `--production` (before the command, as in Metaflow): a `@project` flow's branch."""
    production: bool = False
    quiet: bool = False
    """`--quiet` (before the command): only task output and errors."""


def parse_run_arguments(flow_cls: type, arguments: Sequence[str]) -> RunArguments | None:
    """The arguments of a plain `run`, or None when only click can tell what they mean (or what is wrong)."""
    from flowkit.authoring.parameter import flow_parameters

    if not arguments or arguments[0] != "run" or len(arguments) % 2 == 0 or _completion_requested():
        return None
    declared = flow_parameters(flow_cls)
    if any(not name.isidentifier() or f"--{name}" in _RUN_OPTIONS for name in declared):
        return None  # click's own naming rules would apply: leave them to it
    parsed = RunArguments()
    seen: set[str] = set()
    for flag, text in zip(arguments[1::2], arguments[2::2], strict=True):  # even count checked above
        if flag in seen or not flag.startswith("--") or not text or text.startswith("-"):
            return None
        seen.add(flag)
        name = flag[2:]
        if name in declared:
            try:
                value = declared[name].parse(text)
            except ParameterError:
                return None
            if value is not None:
                parsed.parameters[name] = value
        elif not _set_run_option(parsed, flag, text):
            return None
    required = (p.name for p in declared.values() if p.required and p.default is None)
    if any(name not in parsed.parameters for name in required):
        return None
    return parsed


def _set_run_option(parsed: RunArguments, flag: str, text: str) -> bool:
    """Apply one of the run command's own options, if `text` is a value click accepts for it without a word."""
    if flag in ("--max-workers", "--max-num-splits"):
        minimum = 1 if flag == "--max-workers" else 0
        if not (text.isascii() and text.isdigit() and int(text) >= minimum):
            return False
        setattr(parsed, flag[2:].replace("-", "_"), int(text))
    elif flag == "--datastore-root":
        if Path(text).is_file():  # click.Path(file_okay=False) rejects it
            return False
        parsed.datastore_root = Path(text)
    elif flag == "--run-id-file":
        if Path(text).is_dir():  # click.Path(dir_okay=False) rejects it
            return False
        parsed.run_id_file = Path(text)
    elif flag == "--environment" and text in _ENVIRONMENTS:
        parsed.environment = text
    else:
        return False
    return True


def _completion_requested() -> bool:
    """Click answers shell completion when `_<PROG>_COMPLETE` is set; only click knows how."""
    return any(name.startswith("_") and name.endswith("_COMPLETE") for name in os.environ)


def run_locally(flow_cls: type, arguments: RunArguments) -> None:
    """Run the flow on this machine and say how it ended; a failed run raises TaskFailedError (exit status 1)."""
    from flowkit.authoring.run_context import start_context
    from flowkit.runtime.api import run_flow

    context = start_context(flow_cls, tags=arguments.tags, branch=arguments.branch, production=arguments.production)
    run = run_flow(
        flow_cls,
        arguments.parameters,
        max_workers=arguments.max_workers,
        datastore_root=arguments.datastore_root,
        run_id_file=arguments.run_id_file,
        environment=arguments.environment,
        max_num_splits=arguments.max_num_splits,
        context=context,
        quiet=arguments.quiet,
    )
    finish(run, quiet=arguments.quiet)


def finish(run: Any, *, quiet: bool = False) -> None:
    """Report a finished run (`run` or `resume`) the way both commands always have (silent on success if quiet)."""
    if not run.successful:
        raise TaskFailedError(f"run {run.pathspec} failed")
    if not quiet:
        print(f"Run {run.pathspec} succeeded.", flush=True)
