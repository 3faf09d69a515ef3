"""The click group of one flow, built only when a command needs click (a plain `run` does not, see `quickrun`).

A flow's CLI is a `FlowGroup`: a click group that knows its flow class (`group.flow_cls`, also `ctx.obj`), so each
command module's `register(group)` can build flow-specific options (one per Parameter) when it adds its commands.
"""

from __future__ import annotations

import importlib
import inspect
from typing import Any

import click

# Each module exposes `register(group)`; the order is the order of `--help`.
COMMAND_MODULES = (
    "flowkit.cli.local",
    "flowkit.cli.cards",
    "flowkit.cli.inspect",
    "flowkit.cli.package",
    "flowkit.cli.env",
    "flowkit.cli.argo",
    "flowkit.cli.gc",
)


_BRANCH_KEY = "flowkit.project_branch"
_QUIET_KEY = "flowkit.quiet"
_CONFIGS_KEY = "flowkit.configs"


class FlowGroup(click.Group):
    """The command group of one flow: `python myflow.py --help` lists what can be done with it.

    It takes Metaflow's top-level options: `--quiet`, `--with DECORATOR` (attached to every step for this command)
    and, for a `@project` flow, `--branch NAME` and `--production` (`python myflow.py --branch x run`); the
    commands that start or deploy runs read them back through `project_branch_options` and `quiet_option`.
    """

    def __init__(self, flow_cls: type, **kwargs: Any) -> None:
        super().__init__(
            name=flow_cls.__name__,
            help=_own_docstring(flow_cls) or f"Commands for the flow {flow_cls.__name__}.",
            context_settings={"obj": flow_cls, "help_option_names": ["-h", "--help"]},
            params=[*_project_options(flow_cls), *_general_options()],
            callback=_apply_group_options,
            **kwargs,
        )
        self.flow_cls = flow_cls


def _project_options(flow_cls: type) -> list[click.Parameter]:
    from flowkit.authoring.run_context import project_spec

    if project_spec(flow_cls) is None:
        return []
    return [
        click.Option(["--branch"], default=None, help="Run or deploy on the @project branch test.BRANCH."),
        click.Option(["--production"], is_flag=True, help="Run or deploy on the @project branch prod."),
    ]


def _general_options() -> list[click.Parameter]:
    return [
        click.Option(["--quiet"], is_flag=True, help="Print only task output and errors."),
        click.Option(
            ["--with", "decorators"],
            multiple=True,
            metavar="DECORATOR[:KEY=VALUE,...]",
            help="Attach a step decorator to every step that lacks it (repeatable), e.g. --with retry:times=2.",
        ),
        click.Option(
            ["--config", "config_files"],
            type=(str, click.Path(exists=True, dir_okay=False)),
            multiple=True,
            metavar="NAME PATH",
            help="Read the Config NAME from the file PATH for this run (repeatable).",
        ),
        click.Option(
            ["--config-value", "config_values"],
            type=(str, str),
            multiple=True,
            metavar="NAME JSON",
            help="Give the Config NAME as JSON text for this run (repeatable).",
        ),
    ]


def _apply_group_options(
    quiet: bool,
    decorators: tuple[str, ...],
    config_files: tuple[tuple[str, str], ...],
    config_values: tuple[tuple[str, str], ...],
    branch: str | None = None,
    production: bool = False,
) -> None:
    from flowkit.cli.attach import attached_decorators

    context = click.get_current_context()
    context.meta[_BRANCH_KEY] = (branch, production)
    context.meta[_QUIET_KEY] = quiet
    context.meta[_CONFIGS_KEY] = _read_configs(context.obj, config_files, config_values)
    context.with_resource(attached_decorators(context.obj, decorators))


def _read_configs(
    flow_cls: type, files: tuple[tuple[str, str], ...], values: tuple[tuple[str, str], ...]
) -> dict[str, Any]:
    """The Config values given by `--config NAME PATH` and `--config-value NAME JSON`, by Config name."""
    from flowkit.authoring.config import Config
    from flowkit.authoring.parameter import flow_parameters

    configs = {name: p for name, p in flow_parameters(flow_cls).items() if isinstance(p, Config)}

    def config(name: str) -> Config:
        if name not in configs:
            raise click.BadParameter(f"{flow_cls.__name__} has no Config {name!r} (configs: {sorted(configs)})")
        return configs[name]

    read: dict[str, Any] = {name: config(name).read_file(path) for name, path in files}
    read.update({name: config(name).parse(text) for name, text in values})
    return read


def config_options() -> dict[str, Any]:
    """The Config values given before the command, by Config name."""
    configs: dict[str, Any] = click.get_current_context().meta.get(_CONFIGS_KEY, {})
    return configs


def quiet_option() -> bool:
    """Whether the group's `--quiet` was given."""
    return bool(click.get_current_context().meta.get(_QUIET_KEY, False))


def project_branch_options() -> tuple[str | None, bool]:
    """The group's `--branch` and `--production` as given to the running command ((None, False) when absent)."""
    branch_and_production: tuple[str | None, bool] = click.get_current_context().meta.get(_BRANCH_KEY, (None, False))
    return branch_and_production


def build_group(flow_cls: type) -> FlowGroup:
    """The group of `flow_cls` with every command module (local, package, env, argo) registered."""
    group = FlowGroup(flow_cls)
    for module_name in COMMAND_MODULES:
        importlib.import_module(module_name).register(group)
    return group


def _own_docstring(flow_cls: type) -> str | None:
    """The flow's own docstring: ``inspect.getdoc`` would fall back to the base class's, and a flow without one
    would describe itself in ``--help`` as "Base class of a workflow"."""
    own = vars(flow_cls).get("__doc__")
    return inspect.cleandoc(own) if isinstance(own, str) else None
