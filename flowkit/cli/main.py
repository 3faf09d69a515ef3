"""Builds the click group for one flow class and runs it; also the `flowkit FILE[:Class]` console script.

A flow's CLI is a `FlowGroup`: a click group that knows its flow class (`group.flow_cls`, also `ctx.obj`), so each
command module's `register(group)` can build flow-specific options (one per Parameter) when it adds its commands.
"""

from __future__ import annotations

import importlib
import importlib.util
import inspect
import sys
from collections.abc import Sequence
from pathlib import Path
from types import ModuleType
from typing import Any, NoReturn

import click

from flowkit.errors import FlowkitError

# Each module exposes `register(group)`; the order is the order of `--help`.
COMMAND_MODULES = ("flowkit.cli.local", "flowkit.cli.package", "flowkit.cli.env", "flowkit.cli.argo")


class FlowGroup(click.Group):
    """The command group of one flow: `python myflow.py --help` lists what can be done with it."""

    def __init__(self, flow_cls: type, **kwargs: Any) -> None:
        super().__init__(
            name=flow_cls.__name__,
            help=inspect.getdoc(flow_cls) or f"Commands for the flow {flow_cls.__name__}.",
            context_settings={"obj": flow_cls, "help_option_names": ["-h", "--help"]},
            **kwargs,
        )
        self.flow_cls = flow_cls


def build_cli(flow_cls: type) -> FlowGroup:
    """The click group of `flow_cls` with every command module (local, package, env, argo) registered."""
    group = FlowGroup(flow_cls)
    for module_name in COMMAND_MODULES:
        importlib.import_module(module_name).register(group)
    return group


def run_flow_cli(flow_cls: type, argv: Sequence[str] | None = None) -> NoReturn:
    """Run the flow's CLI with `argv` (default: `sys.argv[1:]`) and exit with its status.

    A FlowkitError is a user-facing problem (bad input, a failed run), so it is printed as one clean line rather than
    a traceback; anything else is a bug and keeps its traceback.
    """
    arguments = list(sys.argv[1:] if argv is None else argv)
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
        click.secho(f"error: {error}", err=True, fg="red")
        sys.exit(1)
    sys.exit(status if isinstance(status, int) else 0)


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
    spec.loader.exec_module(module)
    return module


CONSOLE_USAGE = """Usage: flowkit COMMAND FILE[:CLASS] [OPTIONS]

Run any command of a flow file, exactly like `python FILE COMMAND [OPTIONS]`.
CLASS is needed only when FILE defines more than one Flow subclass.

Examples:
  flowkit run examples/hello.py
  flowkit show examples/branch.py:BranchFlow
  flowkit run examples/digits.py --help
"""


def main(argv: Sequence[str] | None = None) -> NoReturn:
    """The `flowkit` console script."""
    arguments = list(sys.argv[1:] if argv is None else argv)
    if arguments[:1] in (["-h"], ["--help"]):
        click.echo(CONSOLE_USAGE)
        sys.exit(0)
    if len(arguments) < 2:
        click.echo(CONSOLE_USAGE, err=True)
        sys.exit(2)
    command, target, *rest = arguments
    try:
        flow_cls = load_flow_class(target)
    except FlowkitError as error:
        click.secho(f"error: {error}", err=True, fg="red")
        sys.exit(1)
    run_flow_cli(flow_cls, [command, *rest])
