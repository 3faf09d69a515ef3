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
    "flowkit.cli.package",
    "flowkit.cli.env",
    "flowkit.cli.argo",
    "flowkit.cli.gc",
)


_BRANCH_KEY = "flowkit.project_branch"


class FlowGroup(click.Group):
    """The command group of one flow: `python myflow.py --help` lists what can be done with it.

    A `@project` flow's group takes Metaflow's top-level `--branch NAME` and `--production`
    (`python myflow.py --branch x run`); the commands that start or deploy runs read them back through
    `project_branch_options`.
    """

    def __init__(self, flow_cls: type, **kwargs: Any) -> None:
        super().__init__(
            name=flow_cls.__name__,
            help=inspect.getdoc(flow_cls) or f"Commands for the flow {flow_cls.__name__}.",
            context_settings={"obj": flow_cls, "help_option_names": ["-h", "--help"]},
            params=_project_options(flow_cls),
            callback=_remember_branch,
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


def _remember_branch(branch: str | None = None, production: bool = False) -> None:
    click.get_current_context().meta[_BRANCH_KEY] = (branch, production)


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
