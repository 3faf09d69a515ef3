"""Flow Parameters as click options, shared by every command that accepts them (`run`, `argo-trigger`, ...).

Values are parsed by `Parameter.parse` (the one place that knows the CLI syntax of each type) and travel onward as
the JSON text of `Parameter.to_json`, because that is how parameters cross every process and pod boundary.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from flowkit.errors import ParameterError
from flowkit.settings import DATASTORE_ROOT

if TYPE_CHECKING:
    from flowkit.authoring.parameter import Parameter


class FlowParameterType(click.ParamType):
    """A click type that delegates parsing to the flow's Parameter, so CLI and Python runs agree on every value."""

    def __init__(self, parameter: Parameter) -> None:
        self.parameter = parameter
        self.name = parameter.type_name

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if not isinstance(value, str):
            return value
        try:
            return self.parameter.parse(value)
        except ParameterError as error:
            self.fail(str(error), param, ctx)


def parameter_options(flow_cls: type) -> list[click.Option]:
    """One `--<name>` option per Parameter of `flow_cls`, with its help text and required flag.

    Options carry no default: a value the user does not give is not sent, so the flow's own default applies in
    exactly one place (the start task), whichever scheduler runs it.
    """
    from flowkit.authoring.parameter import flow_parameters

    options = []
    for parameter in flow_parameters(flow_cls).values():
        help_text = parameter.help or ""
        if parameter.default is not None and parameter.show_default:
            help_text = f"{help_text} [default: {parameter.to_json(parameter.default)}]".strip()
        options.append(
            click.Option(
                [f"--{parameter.name}", option_destination(parameter)],
                type=FlowParameterType(parameter),
                required=bool(parameter.required) and parameter.default is None,
                help=help_text or None,
            )
        )
    return options


datastore_root_option = click.option(
    "--datastore-root",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help=f"Datastore directory, local or a mounted PVC [default: {DATASTORE_ROOT.describe_default()}].",
)
"""`--datastore-root` of the commands that read or clean runs (`logs`, `dump`, `card ...`, `ui`, `gc`)."""


def option_destination(parameter: Parameter) -> str:
    """The keyword a parameter's option reaches the command as: its name made an identifier (``learning-rate``)."""
    return parameter.name.replace("-", "_")


def given_parameters(flow_cls: type, option_values: dict[str, Any]) -> dict[str, Any]:
    """The parameter values the user gave (by parameter name) among a command's keyword arguments."""
    from flowkit.authoring.parameter import flow_parameters

    given = {}
    for name, parameter in flow_parameters(flow_cls).items():
        value = option_values.get(option_destination(parameter))
        if value is not None:
            given[name] = value
    return given


def add_parameter_options(command: click.Command, flow_cls: type) -> click.Command:
    """A copy of `command` with the flow's parameter options first (users list them first), for this flow alone.

    A copy, because `command` may be a module-level command shared by every flow's group: adding to it in place would
    give a second group built in the same process (a notebook, an in-process test) the first flow's options twice.
    """
    flow_command = copy.copy(command)
    flow_command.params = [*parameter_options(flow_cls), *command.params]
    return flow_command
