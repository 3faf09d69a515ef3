"""Runs a flow's command line (`python myflow.py ...`); also the `flowkit FILE[:Class]` console script.

The commands are a click group (`flowkit.cli.group`), but a plain `run` or `resume` is parsed without click
(`flowkit.cli.quickrun`): importing it would be a tenth of a short run. click is imported for everything else.
"""

from __future__ import annotations

import atexit
import gc
import importlib.util
import os
import sys
import traceback
from collections.abc import Sequence
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, NoReturn

from flowkit.cli.quickrun import RunArguments, parse_resume_arguments, parse_run_arguments, run_locally
from flowkit.cli.user_errors import DEBUG_FLAG, debug_enabled, describe_user_error, without_debug_flag
from flowkit.errors import FlowkitError
from flowkit.settings import DEBUG

if TYPE_CHECKING:
    import click

    from flowkit.cli.group import FlowGroup
    from flowkit.runtime.resume import ResumeFrom


def build_cli(flow_cls: type) -> FlowGroup:
    """The click group of `flow_cls` with every command module (local, package, env, argo) registered."""
    from flowkit.cli.group import build_group

    return build_group(flow_cls)


def run_flow_cli(flow_cls: type, argv: Sequence[str] | None = None) -> NoReturn:
    """Run the flow's CLI with `argv` (default: `sys.argv[1:]`) and exit with its status.

    A FlowkitError is a user-facing problem (bad input, a failed run), so it is printed as one clean line rather than
    a traceback; anything else is a bug and keeps its traceback.
    """
    _skip_the_final_collection()
    arguments = _take_debug_flag(list(sys.argv[1:] if argv is None else argv))
    quick = parse_run_arguments(flow_cls, arguments)
    if quick is not None:
        _run_without_click(flow_cls, quick)
    quick_resume = parse_resume_arguments(arguments)
    if quick_resume is not None:
        _run_without_click(flow_cls, *quick_resume)
    import click

    try:
        # Without standalone mode click returns a command's `Exit` code instead of raising it.
        status = build_cli(flow_cls).main(args=arguments, prog_name=_program_name(), standalone_mode=False)
    except click.ClickException as error:
        error.show()
        sys.exit(error.exit_code)
    except click.exceptions.Abort:
        click.echo("Aborted.", err=True)
        sys.exit(130)
    except FlowkitError as error:
        _report(error)
    sys.exit(status if isinstance(status, int) else 0)


def _skip_the_final_collection() -> None:
    """Freeze the garbage collector's objects when the interpreter exits, before it tears its modules down.

    Without it, exiting costs a collection over every object of every module imported (about 10 ms after a run:
    flowkit, the flow, cloudpickle), only to free memory the process gives back anyway. Frozen at exit (the first
    thing an exiting interpreter does is to run its `atexit` functions), so an interpreter that lives on (a notebook
    calling `MyFlow.main(...)`) collects as usual; what is lost is only the `__del__` of objects in reference cycles
    at exit, which Python never promises. Registered once however often the CLI runs in one process.
    """
    atexit.unregister(gc.freeze)
    atexit.register(gc.freeze)


def _run_without_click(flow_cls: type, arguments: RunArguments, resume_from: ResumeFrom | None = None) -> NoReturn:
    """A plain `run` or `resume` (see `flowkit.cli.quickrun`), ending as click ends it: same messages, same exit
    statuses."""
    try:
        run_locally(flow_cls, arguments, resume_from)
    except (EOFError, KeyboardInterrupt):
        print(file=sys.stderr)
        print("Aborted.", file=sys.stderr)
        sys.exit(130)
    except FlowkitError as error:
        _report(error)
    sys.exit(0)


def _report(error: FlowkitError) -> NoReturn:
    """A user-facing problem, printed as one clean red line (click only loaded now, to colour it), ending the command
    with the error's exit status (1, or ``EXIT_STORAGE`` when the datastore's storage refused an operation)."""
    import click

    if debug_enabled():
        traceback.print_exception(error)
    click.secho(f"error: {error}", err=True, fg="red")
    sys.exit(error.exit_code)


def _take_debug_flag(arguments: list[str]) -> list[str]:
    """Remove the global ``--debug`` switch from the command line, remembering it for every later report."""
    if DEBUG_FLAG in arguments:
        os.environ[DEBUG.env_var] = "1"
    return without_debug_flag(arguments)


def _program_name() -> str:
    return Path(sys.argv[0]).name if sys.argv and sys.argv[0] else "flow"


def load_flow_class(target: str) -> type:
    """Import `path/to/file.py[:ClassName]` and return its Flow subclass.

    Without a class name the file must define exactly one Flow subclass of its own (imported ones do not count);
    zero or several is an error that lists what was found.
    """
    from flowkit.authoring.flow import Flow

    path_text, _, class_name = target.partition(":")
    path = Path(path_text)
    if not path.is_file():
        raise FlowkitError(f"no such flow file: {path_text}")
    module = _import_file(path)
    if class_name:
        found = getattr(module, class_name, None)
        if not (isinstance(found, type) and issubclass(found, Flow)):
            raise FlowkitError(f"{path_text} defines no Flow subclass named {class_name!r}")
        return found
    candidates = [
        value
        for value in vars(module).values()
        if isinstance(value, type) and issubclass(value, Flow) and value.__module__ == module.__name__
    ]
    if len(candidates) != 1:
        names = ", ".join(sorted(candidate.__name__ for candidate in candidates)) or "none"
        raise FlowkitError(f"{path_text} must define exactly one Flow subclass (found: {names}); use {path_text}:Class")
    return candidates[0]


def _import_file(path: Path) -> ModuleType:
    """Import a flow file as a module named after its stem, with its folder importable (as `python FILE` has it)."""
    module_name = path.stem
    sys.path.insert(0, str(path.resolve().parent))
    spec = importlib.util.spec_from_file_location(module_name, path)
    if spec is None or spec.loader is None:
        raise FlowkitError(f"cannot import {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    try:
        spec.loader.exec_module(module)
    except Exception as error:
        brief = None if debug_enabled() else describe_user_error(error, str(path))
        if brief is None:
            raise
        raise FlowkitError(brief) from error
    return module


CONSOLE_USAGE = f"""Usage: flowkit COMMAND FILE[:CLASS] [OPTIONS]

Run any command of a flow file, exactly like `python FILE COMMAND [OPTIONS]`.
CLASS is needed only when FILE defines more than one Flow subclass.
--debug anywhere (or {DEBUG.env_var}=1) shows full tracebacks instead of one-line errors.

`flowkit cluster-setup --namespace NS [--apply]` prints (or creates) what a namespace needs before flows run in it.
`flowkit ui [--datastore-root DIR] [--port N] [--host ADDR]` serves the web UI over a datastore.
`flowkit gc [--datastore-root DIR] [--older-than DAYS] [--grace-hours H] [--dry-run]` deletes old runs, then the
blobs and extracted packages no remaining run refers to.

Examples:
  flowkit run examples/hello.py
  flowkit show examples/branch.py:BranchFlow
  flowkit run examples/digits.py --help
"""


# Console-script commands that take no flow file, as "module:attribute" of their click command (imported on use).
FLOWLESS_COMMANDS = {
    "ui": "flowkit.cli.ui:ui_command",
    "gc": "flowkit.cli.gc:gc_command",
    "cluster-setup": "flowkit.cli.cluster:cluster_setup_command",
}


def flowless_command(name: str) -> click.Command:
    """The click command of a `FLOWLESS_COMMANDS` entry, its module imported only now."""
    module_name, _, attribute = FLOWLESS_COMMANDS[name].partition(":")
    command: click.Command = getattr(importlib.import_module(module_name), attribute)
    return command


def main(argv: Sequence[str] | None = None) -> NoReturn:
    """The `flowkit` console script."""
    import click

    arguments = _take_debug_flag(list(sys.argv[1:] if argv is None else argv))
    if arguments[:1] in (["-h"], ["--help"]):
        click.echo(CONSOLE_USAGE)
        sys.exit(0)
    if arguments[:1] and arguments[0] in FLOWLESS_COMMANDS:
        try:
            flowless_command(arguments[0]).main(args=arguments[1:], prog_name=f"flowkit {arguments[0]}")
        except FlowkitError as error:
            _report(error)
    if len(arguments) < 2:
        click.echo(CONSOLE_USAGE, err=True)
        sys.exit(2)
    command, target, *rest = arguments
    try:
        flow_cls = load_flow_class(target)
    except FlowkitError as error:
        _report(error)
    run_flow_cli(flow_cls, [command, *rest])
