"""The argo-* commands: compile and deploy a flow to Argo Workflows, start runs, list them, remove the flow.

Only click is imported here; Hera and the Kubernetes client load when one of these commands runs.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

import click

from flowkit.argo_versions import SUPPORTED_ARGO_VERSIONS
from flowkit.cli.group import project_branch_options
from flowkit.cli.params import add_parameter_options, given_parameters
from flowkit.settings import ARGO_VERSION

_METAFLOW_NAME_KEY = "flowkit.argo_workflows_name"


def register(group: click.Group) -> None:
    """Add the Argo commands to a flow's group (`group.flow_cls` is the flow).

    Each command exists twice: as flowkit spells it (`argo-create`) and as Metaflow does, a subcommand of
    `argo-workflows` (`argo-workflows create`), which also takes Metaflow's `argo-workflows --name NAME`.
    """
    flow_cls: type = group.flow_cls  # type: ignore[attr-defined]
    # Built per group: the parameter options belong to this flow only.
    trigger_command = add_parameter_options(_trigger_command(), flow_cls)
    metaflow_spelling = click.Group(
        "argo-workflows",
        help="Metaflow's spelling of the argo-* commands: create, trigger, delete, list-runs.",
        params=[click.Option(["--name"], default=None, help="WorkflowTemplate name, for every subcommand.")],
        callback=_remember_template_name,
    )
    for command in (create_command, trigger_command, delete_command, list_runs_command):
        group.add_command(command)
        metaflow_spelling.add_command(command, name=command.name.removeprefix("argo-"))  # type: ignore[union-attr]
    group.add_command(metaflow_spelling)


def _remember_template_name(name: str | None) -> None:
    click.get_current_context().meta[_METAFLOW_NAME_KEY] = name


def _template_name(name: str | None) -> str | None:
    """The command's own `--name`, else the one given to `argo-workflows`."""
    chosen: str | None = name or click.get_current_context().meta.get(_METAFLOW_NAME_KEY)
    return chosen


def _deployment_context(tags: tuple[str, ...] = ()) -> Any:
    """Who deploys, with which run tags, on the `@project` branch chosen by the group's `--branch`/`--production`."""
    from flowkit.authoring.run_context import start_context

    branch, production = project_branch_options()
    return start_context(click.get_current_context().obj, tags=tags, branch=branch, production=production)


def _target_options(command: Any, name_flag: str = "--name") -> Any:
    """Which template, in which namespace, on which cluster."""
    for option in reversed(
        [
            click.option(
                name_flag, "name", default=None, help="WorkflowTemplate name [default: @argo(name=...) or the flow's]."
            ),
            click.option("--namespace", default=None, help="Namespace [default: @argo or kubeconfig]."),
            click.option("--kubeconfig", default=None, help="kubeconfig file [default: $KUBECONFIG, ~/.kube/config]."),
            click.option("--context", "kube_context", default=None, help="kubeconfig context [default: current]."),
        ]
    ):
        command = option(command)
    return command


def _target(
    name: str | None, namespace: str | None, kubeconfig: str | None, kube_context: str | None
) -> dict[str, Any]:
    """The keywords that tell the compiler API which deployed template a command is about."""
    return {
        "name": _template_name(name),
        "namespace": namespace,
        "cluster": _cluster(kubeconfig, kube_context),
        "context": _deployment_context(),
    }


def _cluster(kubeconfig: str | None, kube_context: str | None) -> Any:
    from flowkit.deploy.api import Cluster

    return Cluster(kubeconfig=kubeconfig, context=kube_context)


@click.command("argo-create")
@_target_options
@click.option("--only-yaml", is_flag=True, help="Print every manifest as YAML and contact no cluster.")
@click.option(
    "--package-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="A local mount of the datastore PVC: write the code package there instead of uploading it through a pod.",
)
@click.option(
    "--project-root",
    type=click.Path(file_okay=False, exists=True, path_type=Path),
    default=None,
    help="Root of the code package [default: the flow file's git checkout or directory].",
)
@click.option("--tag", "tags", multiple=True, help="Tag every run of the deployed template (repeatable).")
@click.option(
    "--argo-version",
    default=None,
    help=f"Argo Workflows version of the cluster ({', '.join(SUPPORTED_ARGO_VERSIONS)}): 3.5 knows only a "
    f"CronWorkflow's `schedule`, 4.x only `schedules` [default: {ARGO_VERSION.describe_default()}].",
)
@click.pass_obj
def create_command(
    flow_cls: type,
    name: str | None,
    namespace: str | None,
    kubeconfig: str | None,
    kube_context: str | None,
    only_yaml: bool,
    package_dir: Path | None,
    project_root: Path | None,
    tags: tuple[str, ...],
    argo_version: str | None,
) -> None:
    """Compile the flow into an Argo WorkflowTemplate (and CronWorkflow) and create or update it.

    With --only-yaml nothing is sent: the manifests are printed, and with --package-dir the code package is
    published into that directory first, the manifests referencing exactly what was published there.
    """
    from flowkit.compiler.render import to_yaml
    from flowkit.deploy import api

    name, context = _template_name(name), _deployment_context(tags)
    if only_yaml:
        ignored = [flag for flag, value in (("--kubeconfig", kubeconfig), ("--context", kube_context)) if value]
        if ignored:
            raise click.UsageError(f"{' and '.join(ignored)} would be ignored: --only-yaml contacts no cluster")
        manifests = api.to_argo(
            flow_cls,
            name=name,
            namespace=namespace,
            project_root=project_root,
            context=context,
            package_dir=package_dir,
            argo_version=argo_version,
        )
        click.echo(to_yaml(manifests), nl=False)
        return
    result = api.argo_create(
        flow_cls,
        name=name,
        namespace=namespace,
        package_dir=package_dir,
        project_root=project_root,
        cluster=_cluster(kubeconfig, kube_context),
        context=context,
        argo_version=argo_version,
    )
    for config_map in result.config_maps:
        if config_map.action != "unchanged":
            click.echo(f"{config_map.action.capitalize()} ConfigMap {config_map.name} (mounted by the pods).")
    for applied in (result.template, result.cron):
        if applied is not None:
            verb = "Created" if applied.created else "Updated"
            click.echo(f"{verb} {applied.kind} {applied.name} (resourceVersion {applied.resource_version}).")
    if result.removed_stale_cron:
        click.echo("Removed the CronWorkflow of a schedule the flow no longer has.")


def _trigger_command() -> click.Command:
    # --template-name, not --name: flows commonly have a parameter called `name`.
    @click.command("argo-trigger")
    @functools.partial(_target_options, name_flag="--template-name")
    @click.pass_obj
    def trigger_command(
        flow_cls: type,
        name: str | None,
        namespace: str | None,
        kubeconfig: str | None,
        kube_context: str | None,
        **parameter_values: Any,
    ) -> None:
        """Start a run of the deployed WorkflowTemplate and print the workflow's name."""
        from flowkit.deploy.api import argo_trigger

        given = given_parameters(flow_cls, parameter_values)
        workflow = argo_trigger(flow_cls, given, **_target(name, namespace, kubeconfig, kube_context))
        click.echo(workflow)

    return trigger_command


@click.command("argo-delete")
@_target_options
@click.pass_obj
def delete_command(
    flow_cls: type, name: str | None, namespace: str | None, kubeconfig: str | None, kube_context: str | None
) -> None:
    """Delete the flow's WorkflowTemplate and its CronWorkflow, if any (runs are kept)."""
    from flowkit.deploy.api import argo_delete

    deleted = argo_delete(flow_cls, **_target(name, namespace, kubeconfig, kube_context))
    click.echo("Deleted the WorkflowTemplate" + (" and its CronWorkflow." if deleted.cron else "."))


@click.command("argo-list-runs")
@_target_options
@click.pass_obj
def list_runs_command(
    flow_cls: type, name: str | None, namespace: str | None, kubeconfig: str | None, kube_context: str | None
) -> None:
    """List the workflows started from the flow's template, newest first, with their phase."""
    from flowkit.deploy.api import argo_list_runs

    runs = argo_list_runs(flow_cls, **_target(name, namespace, kubeconfig, kube_context))
    if not runs:
        click.echo("No runs.")
    for run in runs:
        click.echo(f"{run.name}\t{run.phase}\t{run.started_at or '-'}\t{run.finished_at or '-'}")
