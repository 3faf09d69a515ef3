"""The commands that work on this machine: `run`, `resume`, `show` and `check`."""

from __future__ import annotations

from typing import Any

import click

from flowkit.cli.group import config_options, project_branch_options, quiet_option
from flowkit.cli.params import add_parameter_options, given_parameters
from flowkit.cli.quickrun import RESUME_OPTIONS, RUN_OPTIONS, RunArguments, RunOption, run_locally


def register(group: click.Group) -> None:
    """Add the local commands to a flow's group (`group.flow_cls` is the flow)."""
    flow_cls: type = group.flow_cls  # type: ignore[attr-defined]
    group.add_command(add_parameter_options(run_command, flow_cls))
    group.add_command(resume_command)
    group.add_command(show_command)
    group.add_command(output_dot_command)
    group.add_command(check_command)


def _execution_options(command: Any, options: tuple[RunOption, ...] = RUN_OPTIONS) -> Any:
    """The click options of ``options`` (by default those `run` and `resume` share), made from the tables the fast
    path parses too."""
    for option in reversed(options):
        command = option.click_option()(command)
    return command


def _resume_options(command: Any) -> Any:
    """`resume`'s options: its own (`RESUME_OPTIONS`) before the ones it shares with `run`."""
    return _execution_options(command, RESUME_OPTIONS + RUN_OPTIONS)


@click.command("run", context_settings={"ignore_unknown_options": False})
@_execution_options
@click.pass_obj
def run_command(flow_cls: type, **values: Any) -> None:
    """Run the flow on this machine, each task in its own process."""
    parameters = {**config_options(), **given_parameters(flow_cls, values)}
    run_locally(flow_cls, _run_arguments(parameters, values))


@click.command("resume")
@click.argument("step", required=False)
@_resume_options
@click.pass_obj
def resume_command(flow_cls: type, step: str | None, origin_run_id: str | None, **values: Any) -> None:
    """Start a new run that reuses every unchanged task of the origin run (or those before STEP) and runs the rest."""
    from flowkit.runtime.resume import ResumeFrom

    run_locally(flow_cls, _run_arguments({}, values), ResumeFrom(origin_run_id=origin_run_id, step=step))


def _run_arguments(parameters: dict[str, Any], values: dict[str, Any]) -> RunArguments:
    """The run's parameters, the table's options as click parsed them, and the group's own options."""
    options = {option.name: values[option.name] for option in RUN_OPTIONS}
    branch, production = project_branch_options()
    return RunArguments(
        parameters=parameters,
        **options,
        branch=branch,
        production=production,
        quiet=quiet_option(),
    )


@click.command("show")
@click.option(
    "--format",
    "output_format",
    type=click.Choice(["text", "mermaid", "dot"]),
    default="text",
    show_default=True,
    help="text: steps with their resolved specs; mermaid or dot: a diagram with each step's pod settings.",
)
@click.pass_obj
def show_command(flow_cls: type, output_format: str) -> None:
    """Print the step graph and the resolved spec of every step (class defaults merged with step overrides)."""
    import yaml

    from flowkit.graph import build_graph
    from flowkit.specs import resolve_step_specs
    from flowkit.specs.profile import ClusterProfile, explain

    if output_format != "text":
        click.echo(_diagram(flow_cls, output_format), nl=False)
        return
    graph = build_graph(flow_cls)
    specs = resolve_step_specs(flow_cls)
    cluster = explain(flow_cls, ClusterProfile.load())
    for node in graph.steps.values():
        arrow = f" --{node.transition}--> {', '.join(node.out)}" if node.out else ""
        extras = [f"foreach over {node.foreach_var}"] if node.foreach_var else []
        extras += [f"joins {node.joins}"] if node.joins else []
        extras += ["exit handler"] if node.is_exit_handler else []
        suffix = f"  ({'; '.join(extras)})" if extras else ""
        click.secho(f"{node.name}{arrow}{suffix}", bold=True)
        if node.doc:
            click.echo(f"    {node.doc.strip().splitlines()[0]}")
        spec = _without_empty(specs[node.name].model_dump(mode="json", exclude_none=True, exclude={"step"}))
        click.echo("    " + yaml.safe_dump(spec, sort_keys=False).rstrip().replace("\n", "\n    "))
        _show_sources("    on Argo:", cluster[node.name])
    _show_sources("  flow-wide on Argo:", cluster["(flow)"])
    click.echo("  (precedence: step decorator > class decorator > profile > built-in default)")


def _show_sources(title: str, rows: list[tuple[str, Any, str]]) -> None:
    """Each value a pod gets on a cluster, with where it came from (decorator, profile, built-in default)."""
    click.echo(title)
    for field, value, source in rows:
        shown = "-" if value in (None, [], {}) else value
        click.echo(f"      {field}: {shown}  [{source}]")
    click.echo()


@click.command("output-dot")
@click.pass_obj
def output_dot_command(flow_cls: type) -> None:
    """Print the step graph in Graphviz DOT (Metaflow's name for `show --format dot`)."""
    click.echo(_diagram(flow_cls, "dot"), nl=False)


def _diagram(flow_cls: type, output_format: str) -> str:
    from flowkit.graph import build_graph
    from flowkit.graph.diagram import to_dot, to_mermaid
    from flowkit.specs import resolve_step_specs
    from flowkit.specs.summary import pod_settings

    specs = resolve_step_specs(flow_cls)
    settings = {name: pod_settings(spec.model_dump(mode="json")) for name, spec in specs.items()}
    render = to_mermaid if output_format == "mermaid" else to_dot
    return render(build_graph(flow_cls), settings)


def _without_empty(value: Any) -> Any:
    """Drop empty mappings and lists, which say nothing about a step, so what was set stands out."""
    if isinstance(value, dict):
        kept = {key: _without_empty(item) for key, item in value.items()}
        return {key: item for key, item in kept.items() if item not in ({}, [])}
    return value


@click.command("check")
@click.pass_obj
def check_command(flow_cls: type) -> None:
    """Validate the graph and every step's decorators; exit non-zero listing what is wrong."""
    from flowkit.errors import FlowDefinitionError
    from flowkit.graph import build_graph
    from flowkit.specs import flow_options, resolve_step_specs

    problems = []
    for validate in (build_graph, resolve_step_specs, flow_options):
        try:
            validate(flow_cls)
        except FlowDefinitionError as error:
            problems.append(str(error))
    if problems:
        for problem in problems:
            click.secho(f"error: {problem}", err=True, fg="red")
        raise click.exceptions.Exit(1)
    click.echo(f"{flow_cls.__name__}: OK")
