"""The Argo entry points behind `Flow.to_argo`, `Flow.argo_create`, `Flow.argo_trigger` and the argo-* commands.

This is where the layers meet for a deployment: the code package is built (`flowkit.packaging`), the flow compiled
(`flowkit.compiler`, which only turns a graph and specs into Hera objects), the package published and the
manifests applied (the Kubernetes calls of `flowkit.deploy`). Each function does its checks before its first
request: the flow is compiled (names, images, references validated) before the package is uploaded or the template
applied, so a bad flow leaves nothing on the cluster.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from flowkit.compiler.compiler import ArgoManifests, compile_flow, deployment_target
from flowkit.compiler.names import cron_workflow_name
from flowkit.compiler.render import to_dicts

if TYPE_CHECKING:
    from flowkit.authoring.run_context import RunContext
    from flowkit.deploy.config import ApiClientFactory
    from flowkit.deploy.pod_exec import HelperPodSpec
    from flowkit.deploy.runs import WorkflowRun
    from flowkit.deploy.templates import DeletedObjects, DeployResult
    from flowkit.packaging import BuiltPackage, PackageRef, Payload


@dataclass(frozen=True)
class Cluster:
    """Where to deploy: kubeconfig file and context (None: the default, or the in-cluster config in a pod)."""

    kubeconfig: str | None = None
    context: str | None = None

    def client_factory(self) -> ApiClientFactory:
        from flowkit.deploy.config import kube_client_factory

        return kube_client_factory(self.kubeconfig, self.context)

    def namespace(self, requested: str | None) -> str:
        from flowkit.deploy.config import default_namespace

        return requested or default_namespace(self.kubeconfig, self.context)


def _build(flow_cls: type, project_root: str | Path | None) -> tuple[BuiltPackage, Payload]:
    from flowkit.packaging import build_package, build_payload

    return build_package(flow_cls, project_root), build_payload(flow_cls, project_root)


def to_argo(
    flow_cls: type,
    *,
    name: str | None = None,
    namespace: str | None = None,
    project_root: str | Path | None = None,
    context: RunContext | None = None,
    package_dir: str | Path | None = None,
    argo_version: str | None = None,
) -> ArgoManifests:
    """The Hera objects `argo-create` would deploy, for a cluster running ``argo_version``.

    Without ``package_dir`` they reference the flow's code package as built, not published. With it (a local mount
    of the datastore claim, or a directory synced to it) the package is published there first and the manifests
    reference exactly what is there, so they can be handed to kubectl or a GitOps tool.
    `context` (here and below) is the deployment's user, run tags and `@project` branch (see `compile_flow`).
    """
    from flowkit.packaging import package_ref, publish_to_dir

    package, payload = _build(flow_cls, project_root)
    ref = package_ref(package, payload)
    if package_dir is not None:
        # Compiled once first: a definition error must leave the directory untouched.
        compile_flow(flow_cls, package=ref, name=name, namespace=namespace, context=context, argo_version=argo_version)
        ref = publish_to_dir(package, payload, package_dir)
    return compile_flow(
        flow_cls, package=ref, name=name, namespace=namespace, context=context, argo_version=argo_version
    )


def upload_pod_spec(flow_cls: type) -> HelperPodSpec:
    """The package upload pod as the flow's own pods run: same claim, user, fsGroup and service account (so what it
    writes is theirs to read), admitted under "restricted", and scheduled and pulled like the flow's pods: the
    flow-wide `@kubernetes` node selector and tolerations, `@argo`'s pull secrets and upload image."""
    from flowkit.deploy.pod_exec import HelperPodSpec
    from flowkit.specs.kubernetes import KubernetesSpec
    from flowkit.specs.profile import ClusterProfile
    from flowkit.specs.resolve import class_level_specs

    profile = ClusterProfile.load()
    argo = profile.argo_options(flow_cls)
    kubernetes = class_level_specs(flow_cls).get("kubernetes")
    flow_pods = profile.fill_kubernetes(kubernetes if isinstance(kubernetes, KubernetesSpec) else KubernetesSpec())
    return HelperPodSpec(
        claim=argo.datastore_claim,
        mount_path=argo.datastore_mount,
        image=argo.upload_image,
        service_account=argo.service_account,
        security_context=argo.pod_security_context(),
        image_pull_secrets=tuple(argo.image_pull_secrets),
        node_selector=dict(flow_pods.node_selector),
        tolerations=[toleration.to_kubernetes() for toleration in flow_pods.tolerations],
    )


def _upload(
    factory: ApiClientFactory, namespace: str, flow_cls: type, package: BuiltPackage, payload: Payload
) -> PackageRef:
    """Put the package on the datastore PVC through a short-lived pod; files already there are kept."""
    import hashlib

    from flowkit.deploy.upload import FileUpload, upload_files
    from flowkit.packaging import archive_relpath, manifest_relpath, package_ref, payload_relpath
    from flowkit.packaging.bootstrap_script import MANIFEST_NAME

    archive = archive_relpath(package.package_id)
    files = [
        FileUpload(
            manifest_relpath(package.package_id),
            package.manifest_json,
            hashlib.sha256(package.manifest_json).hexdigest(),
        ),
        FileUpload(archive, package.archive, package.archive_sha256, same_content=(MANIFEST_NAME, package.package_id)),
    ]
    if payload.by_value:
        files.append(FileUpload(payload_relpath(payload.sha256), payload.data, payload.sha256))
    stored = upload_files(factory, namespace, files, upload_pod_spec(flow_cls))
    return package_ref(package, payload, archive_sha256=stored[archive].sha256)


def argo_create(
    flow_cls: type,
    *,
    name: str | None = None,
    namespace: str | None = None,
    package_dir: str | Path | None = None,
    project_root: str | Path | None = None,
    cluster: Cluster | None = None,
    context: RunContext | None = None,
    argo_version: str | None = None,
) -> DeployResult:
    """Publish the code package and create or update the WorkflowTemplate (and CronWorkflow) on the cluster.

    ``package_dir`` is a local mount of the datastore PVC: the package is written there directly. Without it the
    package travels through the Kubernetes API into the PVC.
    """
    from flowkit.deploy.templates import deploy_flow
    from flowkit.packaging import package_ref, publish_to_dir

    cluster = cluster or Cluster()
    deployment_target(flow_cls, name, namespace, context)  # a bad name fails before the package is even built
    package, payload = _build(flow_cls, project_root)
    # Compile once before sending anything: every definition error surfaces while the cluster is untouched.
    compiled = compile_flow(
        flow_cls,
        package=package_ref(package, payload),
        name=name,
        namespace=namespace,
        context=context,
        argo_version=argo_version,
    )
    target_namespace = cluster.namespace(compiled.workflow_template.namespace)
    factory = cluster.client_factory()
    if package_dir is not None:
        ref = publish_to_dir(package, payload, package_dir)
    else:
        ref = _upload(factory, target_namespace, flow_cls, package, payload)
    deployed = compile_flow(
        flow_cls, package=ref, name=name, namespace=target_namespace, context=context, argo_version=argo_version
    )
    manifests = to_dicts(deployed)
    template, cron = manifests[0], manifests[1] if len(manifests) > 1 else None
    stale_cron = None if cron is not None else cron_workflow_name(template["metadata"]["name"])
    return deploy_flow(
        factory,
        target_namespace,
        template,
        cron,
        config_maps=deployed.config_maps,
        stale_cron_name=stale_cron,
    )


def argo_trigger(
    flow_cls: type,
    parameters: dict[str, Any] | None = None,
    *,
    name: str | None = None,
    namespace: str | None = None,
    cluster: Cluster | None = None,
    context: RunContext | None = None,
) -> str:
    """Submit a run of the deployed template with ``parameters`` (Python values); return the Workflow's name.

    Values are encoded with each `Parameter.to_json`, the same text a local run stores, so the start step sees
    exactly the value given here.
    """
    from flowkit.authoring.parameter import flow_parameters
    from flowkit.deploy.runs import submit_workflow
    from flowkit.errors import ParameterError

    declared = flow_parameters(flow_cls)
    encoded: dict[str, str] = {}
    for key, value in (parameters or {}).items():
        if key not in declared:
            raise ParameterError(
                f"is not a parameter of this flow (known: {sorted(declared)})", flow=flow_cls.__name__, parameter=key
            )
        encoded[key] = declared[key].to_json(value)
    cluster = cluster or Cluster()
    template, flow_namespace = deployment_target(flow_cls, name, namespace, context)
    return submit_workflow(cluster.client_factory(), cluster.namespace(flow_namespace), template, encoded)


def argo_delete(
    flow_cls: type,
    *,
    name: str | None = None,
    namespace: str | None = None,
    cluster: Cluster | None = None,
    context: RunContext | None = None,
) -> DeletedObjects:
    """Delete the CronWorkflow (if any), then the WorkflowTemplate."""
    from flowkit.deploy.templates import delete_flow

    cluster = cluster or Cluster()
    template, flow_namespace = deployment_target(flow_cls, name, namespace, context)
    return delete_flow(
        cluster.client_factory(), cluster.namespace(flow_namespace), template, cron_name=cron_workflow_name(template)
    )


def argo_list_runs(
    flow_cls: type,
    *,
    name: str | None = None,
    namespace: str | None = None,
    cluster: Cluster | None = None,
    context: RunContext | None = None,
) -> list[WorkflowRun]:
    """The workflows started from this flow's template, newest first."""
    from flowkit.deploy.runs import list_runs

    cluster = cluster or Cluster()
    template, flow_namespace = deployment_target(flow_cls, name, namespace, context)
    return list_runs(cluster.client_factory(), cluster.namespace(flow_namespace), template)
