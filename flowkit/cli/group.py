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
)


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


def build_group(flow_cls: type) -> FlowGroup:
    """The group of `flow_cls` with every command module (local, package, env, argo) registered."""
    group = FlowGroup(flow_cls)
    for module_name in COMMAND_MODULES:
        importlib.import_module(module_name).register(group)
    return group
