"""Compile a flow into Hera objects: a WorkflowTemplate and, with `@schedule`, a CronWorkflow.

The order is fixed: read the validated graph and resolved specs, reduce every step to a pod plan, lay the graph
out as DAGs, check names, images and references, and only then build Hera objects (one container template per
distinct plan). Nothing here talks to a cluster.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import flowkit
from flowkit.argo_versions import DEFAULT_ARGO_VERSION, ArgoVersion
from flowkit.authoring.run_context import RunContext
from flowkit.compiler import validate
from flowkit.compiler.layout import ENTRY_TEMPLATE, EXIT_TEMPLATE, DagLayout, exit_layout, lay_out
from flowkit.compiler.names import (
    TEMPLATE_LABEL,
    check_dns_label,
    cron_workflow_name,
    dns_label,
    label_value,
    project_template_name,
)
from flowkit.compiler.pods import PodPlan, TaskRole, plan_pod
from flowkit.compiler.segments import split_large_dags
from flowkit.compiler.templates import (
    LABEL_PREFIX,
    PodContext,
    build_container,
    package_cache_dir,
    workflow_volumes,
)
from flowkit.errors import FlowDefinitionError

if TYPE_CHECKING:
    from hera.workflows import DAG, CronWorkflow, WorkflowTemplate
    from hera.workflows.models import DAGTask

    from flowkit.graph import FlowGraph
    from flowkit.packaging import PackageRef
    from flowkit.specs import ArgoSpec, ScheduleSpec, StepSpec


@dataclass
class ArgoManifests:
    """The Hera objects of one compiled flow, for users to inspect or extend before rendering."""

    workflow_template: WorkflowTemplate
    bootstrap_config_map: dict[str, Any]
    """The ConfigMap (a plain manifest: Hera has no model for it) holding the bootstrap every pod mounts; it must
    exist in the template's namespace before a run starts."""
    environment_config_maps: list[dict[str, Any]] = field(default_factory=list)
    """One ConfigMap per environment built on the shared volume: its explicit files, which the pods of the steps
    running in it mount (`flowkit.environments.materialize.environment_files`)."""
    cron_workflow: CronWorkflow | None = None
    argo_version: ArgoVersion = field(default_factory=lambda: ArgoVersion.parse(DEFAULT_ARGO_VERSION))
    """The Argo version the rendered manifests are written for (`flowkit.compiler.render` adapts them)."""

    @property
    def config_maps(self) -> list[dict[str, Any]]:
        """Every ConfigMap the pods mount, to be created before the template: the bootstrap's first."""
        return [self.bootstrap_config_map, *self.environment_config_maps]

    @property
    def objects(self) -> list[Any]:
        """Every object to deploy, the template first (the CronWorkflow refers to it)."""
        return [self.workflow_template] + ([self.cron_workflow] if self.cron_workflow is not None else [])


def _explicit_name(flow: str, value: str, field: str, max_length: int = 63) -> str:
    problem = check_dns_label(value, what=field, max_length=max_length)
    if problem is not None:
        raise FlowDefinitionError(problem, flow=flow, decorator="argo", field=field)
    return value


def _namespace(flow: str, requested: str | None, argo: ArgoSpec, specs: dict[str, StepSpec]) -> str | None:
    """One namespace per workflow: steps may not ask for different ones."""
    step_namespaces = {spec.kubernetes.namespace for spec in specs.values()} - {None}
    if len(step_namespaces) > 1:
        raise FlowDefinitionError(
            f"steps ask for different namespaces {sorted(str(n) for n in step_namespaces)}; a workflow runs in one",
            flow=flow,
            decorator="kubernetes",
            field="namespace",
        )
    namespace = requested or argo.namespace or next(iter(step_namespaces), None)
    return None if namespace is None else _explicit_name(flow, namespace, "namespace")


def deployment_target(
    flow_cls: type, name: str | None = None, namespace: str | None = None, context: RunContext | None = None
) -> tuple[str, str | None]:
    """The WorkflowTemplate's name and namespace (None: the cluster's default), checked before anything is sent.

    An explicit name must already be valid (silently renaming what the user typed would deploy something they
    cannot find); a name derived from the flow class is normalized. A `@project` flow is named after its project,
    branch and class as Metaflow names it (``project.user.NAME.FlowName``, normalized), so every branch deploys
    beside the others; an explicit name would defeat that and is refused, as in Metaflow.
    """
    from flowkit.graph import build_graph
    from flowkit.specs import resolve_step_specs
    from flowkit.specs.profile import ClusterProfile

    flow = build_graph(flow_cls).flow_name
    argo = ClusterProfile.load().argo_options(flow_cls)
    requested_name = name or argo.name
    project = (context or RunContext()).project(flow_cls)
    if project is not None:
        if requested_name is not None:
            raise FlowDefinitionError(
                "a @project flow is named after its project and branch; choose the branch with --branch or "
                "--production instead of a name",
                flow=flow,
                decorator="argo",
                field="name",
            )
        template_name = project_template_name(project.project_flow_name)
    elif requested_name is None:
        template_name = dns_label(flow)
    else:
        template_name = _explicit_name(flow, requested_name, "name")
    return template_name, _namespace(flow, namespace, argo, resolve_step_specs(flow_cls))


def _roles(graph: FlowGraph) -> dict[str, TaskRole]:
    return {
        name: TaskRole(
            passes_parameters=name == graph.start_step,
            writes_splits=node.transition == "foreach",
            writes_branch=node.transition == "switch",
            exit_handler=node.is_exit_handler,
        )
        for name, node in graph.steps.items()
    }


def _check_exit_handler(graph: FlowGraph, argo: ArgoSpec) -> str | None:
    handlers = [name for name, node in graph.steps.items() if node.is_exit_handler]
    if argo.on_exit is not None and argo.on_exit not in handlers:
        raise FlowDefinitionError(
            f"on_exit names {argo.on_exit!r}, which is not an exit-handler step of this flow",
            flow=graph.flow_name,
            decorator="argo",
            field="on_exit",
        )
    return handlers[0] if handlers else None


def _hera_dag(layout: DagLayout) -> DAG:
    from hera.workflows import DAG, Parameter, Task
    from hera.workflows import models as m

    tasks: list[Task | DAGTask] = [
        Task(
            name=task.name,
            template=task.template,
            arguments=[Parameter(name=key, value=value) for key, value in task.arguments.items()],
            dependencies=task.dependencies or None,
            with_param=task.with_param,
            when=task.when,
        )
        for task in layout.tasks
    ]
    inputs = [Parameter(name=name) for name in layout.inputs] or None
    outputs = [
        Parameter(name=name, value_from=m.ValueFrom(parameter=source)) for name, source in layout.outputs.items()
    ] or None
    return DAG(name=layout.name, inputs=inputs, outputs=outputs, tasks=tasks)


def _workflow_metadata(flow: str, package_id: str, argo: ArgoSpec) -> tuple[dict[str, str], dict[str, str]]:
    labels = {
        **argo.labels,
        f"{LABEL_PREFIX}/flow": label_value(flow),
        f"{LABEL_PREFIX}/code-package": package_id[:63],
        f"{LABEL_PREFIX}/flowkit-version": label_value(flowkit.__version__),
    }
    annotations = {**argo.annotations, f"{LABEL_PREFIX}/flow": flow, f"{LABEL_PREFIX}/code-package": package_id}
    return labels, annotations


def _workflow_arguments(flow_cls: type) -> list[Any]:
    """Flow parameters as workflow arguments holding JSON text, overridable when a run is submitted."""
    from hera.workflows import Parameter

    from flowkit.authoring.parameter import flow_parameters

    arguments = []
    for parameter in flow_parameters(flow_cls).values():
        if parameter.required and parameter.default is None:
            arguments.append(Parameter(name=parameter.name))
        else:
            arguments.append(Parameter(name=parameter.name, value=parameter.to_json(parameter.default)))
    return arguments


def _workflow_options(argo: ArgoSpec) -> dict[str, Any]:
    from hera.workflows import models as m

    options: dict[str, Any] = {"archive_logs": argo.archive_logs, "parallelism": argo.parallelism}
    ttl = (argo.ttl_seconds_after_completion, argo.ttl_seconds_after_success, argo.ttl_seconds_after_failure)
    if any(value is not None for value in ttl):
        options["ttl_strategy"] = m.TTLStrategy(
            seconds_after_completion=ttl[0], seconds_after_success=ttl[1], seconds_after_failure=ttl[2]
        )
    if argo.pod_gc is not None:
        options["pod_gc"] = m.PodGC(strategy=argo.pod_gc)
    options["security_context"] = m.PodSecurityContext.model_validate(argo.pod_security_context())
    if argo.image_pull_secrets:
        options["image_pull_secrets"] = [m.LocalObjectReference(name=name) for name in argo.image_pull_secrets]
    if argo.service_account is not None:
        options["service_account_name"] = argo.service_account
    return options


def _plan_pods(flow_cls: type, graph: FlowGraph, specs: dict[str, StepSpec], argo: ArgoSpec) -> dict[str, PodPlan]:
    """Each step's pod plan; steps with equal plans get the very same object (one template for all of them)."""
    from flowkit.environments import plan_pod_environments
    from flowkit.packaging.bootstrap import BOOTSTRAP_DIR

    roles = _roles(graph)
    environments = plan_pod_environments(
        flow_cls, specs, datastore_mount=argo.datastore_mount, scripts_dir=BOOTSTRAP_DIR
    )
    plans: dict[str, PodPlan] = {}
    distinct: dict[str, PodPlan] = {}
    for step, spec in specs.items():
        plan = plan_pod(spec, environments[step], roles[step])
        validate.check_image(graph.flow_name, step, plan.image)
        validate.check_mounts(graph.flow_name, step, spec.kubernetes.pvc, argo)
        plans[step] = distinct.setdefault(plan.key, plan)
    return plans


def _cron_workflow(schedule: ScheduleSpec, template_name: str, namespace: str | None, labels: dict[str, str]) -> Any:
    from hera.workflows import CronWorkflow
    from hera.workflows import models as m

    return CronWorkflow(
        name=cron_workflow_name(template_name),
        namespace=namespace,
        labels=labels,
        schedules=[schedule.cron],
        timezone=schedule.timezone,
        concurrency_policy=schedule.concurrency_policy,
        workflow_template_ref=m.WorkflowTemplateRef(name=template_name),
        # Scheduled runs carry the label that submitted runs get, so argo-list-runs finds both.
        workflow_metadata=m.WorkflowMetadata(labels={TEMPLATE_LABEL: template_name}),
    )


def compile_flow(
    flow_cls: type,
    *,
    package: PackageRef,
    name: str | None = None,
    namespace: str | None = None,
    context: RunContext | None = None,
    argo_version: str | None = None,
) -> ArgoManifests:
    """Build the Hera objects of ``flow_cls`` whose pods bootstrap from ``package`` on the datastore volume, to be
    rendered for ``argo_version`` (see `flowkit.argo_versions`; default: the cluster profile's).

    The cluster profile (`flowkit.specs.profile`) fills what the flow's decorators leave unset.

    `context` is who deploys, with which run tags, on which `@project` branch; every run of the template
    carries it (default: this user, no tags, the default branch).

    Raises `FlowDefinitionError` (naming flow, step and field) before building anything invalid.
    """
    from hera.workflows import WorkflowTemplate
    from hera.workflows import models as m

    from flowkit.graph import build_graph
    from flowkit.packaging import bootstrap_command
    from flowkit.packaging.bootstrap import bootstrap_files
    from flowkit.specs import flow_options
    from flowkit.specs.profile import ClusterProfile

    profile = ClusterProfile.load()
    # Before anything else: a typo must not cost a whole compile.
    version = ArgoVersion.parse(argo_version or str(profile.argo_version.value))
    graph = build_graph(flow_cls)
    options = flow_options(flow_cls)
    argo, flow = profile.argo_options(flow_cls), graph.flow_name
    run_context = context or RunContext()
    template_name, workflow_namespace = deployment_target(flow_cls, name, namespace, run_context)
    exit_step = _check_exit_handler(graph, argo)

    plans = _plan_pods(flow_cls, graph, profile.step_specs(flow_cls), argo)
    unique_plans = list({id(plan): plan for plan in plans.values()}.values())
    validate.check_template_names(flow, unique_plans)
    distinct = {plan.template_name: plan for plan in unique_plans}
    dags = lay_out(graph, {step: plan.template_name for step, plan in plans.items()})
    if exit_step is not None:
        dags.append(exit_layout(exit_step, plans[exit_step].template_name))
    validate.check_task_names(flow, dags)
    validate.check_references(flow, dags, set(distinct))
    validate.check_acyclic(flow, dags)
    dags = split_large_dags(dags)
    validate.check_template_count(flow, len(distinct), len(dags))

    cache_dir = package_cache_dir(argo.package_cache, argo.datastore_mount)
    labels, annotations = _workflow_metadata(flow, package.package_id, argo)
    arguments = _workflow_arguments(flow_cls)
    pod_context = PodContext(
        datastore_claim=argo.datastore_claim,
        datastore_mount=argo.datastore_mount,
        parameter_names=[str(argument.name) for argument in arguments],
        bootstrap=lambda interpreter, argv: bootstrap_command(
            package, argv, datastore_mount=argo.datastore_mount, python=interpreter, cache_dir=cache_dir
        ),
        bootstrap_files=bootstrap_files(),
        package_cache=argo.package_cache,
        package_cache_host_path=argo.package_cache_host_path,
        run_environment=run_context.to_environment(),
        default_cpu=str(profile.cpu.value),
        default_memory=str(profile.memory.value),
    )
    template = WorkflowTemplate(
        name=template_name,
        namespace=workflow_namespace,
        labels=labels,
        annotations=annotations,
        entrypoint=ENTRY_TEMPLATE,
        on_exit=EXIT_TEMPLATE if exit_step is not None else None,
        arguments=arguments or None,
        pod_metadata=m.Metadata(labels=labels, annotations=annotations),
        templates=[*[build_container(plan, pod_context) for plan in distinct.values()], *map(_hera_dag, dags)],
        volumes=workflow_volumes(distinct.values(), pod_context),
        **_workflow_options(argo),
    )
    cron = None
    if options.schedule is not None:
        cron = _cron_workflow(options.schedule, template_name, workflow_namespace, labels)
    environment_files = {
        plan.environment.files.name: plan.environment.files for plan in distinct.values() if plan.environment.files
    }
    return ArgoManifests(
        workflow_template=template,
        bootstrap_config_map=bootstrap_files().config_map(workflow_namespace),
        environment_config_maps=[
            files.config_map(workflow_namespace) for _, files in sorted(environment_files.items())
        ],
        cron_workflow=cron,
        argo_version=version,
    )
