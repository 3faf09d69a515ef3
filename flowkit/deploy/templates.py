"""Deploy a flow's WorkflowTemplate (and CronWorkflow) so that a failure leaves nothing half-deployed.

Public functions (``factory`` is a `flowkit.deploy.config.ApiClientFactory`; manifests are plain dicts as the Argo
compiler renders them, with ``metadata.name`` set):

- ``deploy_flow(factory, namespace, template, cron=None, *, config_maps=(), stale_cron_name=None) -> DeployResult``
- ``delete_flow(factory, namespace, template_name, *, cron_name=None) -> DeletedObjects``

Order of work in `deploy_flow`: check every name (no request yet), dry-run every write on the server (strict field
validation, RBAC, namespace, schema: nothing persisted), then write the ConfigMaps the pods mount (the bootstrap's,
and the explicit files of each environment built on the shared volume), the template, then the cron. Only a failure
between the template's and the cron's real writes can leave a partial state; it is rolled back when the template was
new, and described in the error when an existing template was updated. A ConfigMap written before a failed template
write stays: it is content-addressed, so it is exactly what the next deploy of the same scripts and environments
needs, and no template that mounts another one is affected.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from flowkit.deploy.argo_objects import ArgoObjects
from flowkit.deploy.config import ApiClientFactory
from flowkit.deploy.config_maps import AppliedConfigMap, ConfigMaps
from flowkit.deploy.errors import DeployError
from flowkit.deploy.resources import CRON_WORKFLOW, WORKFLOW_TEMPLATE, ArgoResource, check_name


@dataclass(frozen=True)
class AppliedObject:
    kind: str
    name: str
    resource_version: str
    created: bool
    """True when the object did not exist before; False when it replaced an existing one."""


@dataclass(frozen=True)
class DeployResult:
    template: AppliedObject
    cron: AppliedObject | None
    removed_stale_cron: bool
    config_maps: tuple[AppliedConfigMap, ...] = ()


@dataclass(frozen=True)
class DeletedObjects:
    template: bool
    cron: bool


def _manifest_name(resource: ArgoResource, body: Mapping[str, Any]) -> str:
    name = body.get("metadata", {}).get("name")
    if not isinstance(name, str):
        raise DeployError(f"the {resource.kind} manifest has no metadata.name")
    return check_name(resource, name)


def _apply_once(
    objects: ArgoObjects, resource: ArgoResource, body: Mapping[str, Any], *, dry_run: bool
) -> AppliedObject:
    """Create the object, or replace it carrying the current resourceVersion so a concurrent change is a 409."""
    name = _manifest_name(resource, body)
    current = objects.get(resource, name)
    if current is None:
        stored = objects.create(resource, body, dry_run=dry_run)
    else:
        replacement = copy.deepcopy(dict(body))
        replacement["metadata"]["resourceVersion"] = current["metadata"]["resourceVersion"]
        stored = objects.replace(resource, replacement, dry_run=dry_run)
    return AppliedObject(resource.kind, name, str(stored["metadata"].get("resourceVersion", "")), current is None)


def _apply(objects: ArgoObjects, resource: ArgoResource, body: Mapping[str, Any], *, dry_run: bool) -> AppliedObject:
    """`_apply_once`, read and tried once more after a 409: someone changed (or created) the object in between."""
    try:
        return _apply_once(objects, resource, body, dry_run=dry_run)
    except DeployError as error:
        if error.status != 409:
            raise
    return _apply_once(objects, resource, body, dry_run=dry_run)


def deploy_flow(
    factory: ApiClientFactory,
    namespace: str,
    template: Mapping[str, Any],
    cron: Mapping[str, Any] | None = None,
    *,
    config_maps: Sequence[Mapping[str, Any]] = (),
    stale_cron_name: str | None = None,
) -> DeployResult:
    """Create or update the flow's WorkflowTemplate, then its CronWorkflow if it has a schedule.

    ``config_maps``: the ConfigMaps the template's pods mount (`flowkit.compiler.ArgoManifests.config_maps`),
    created or replaced before the template so that no run can start without them.

    ``stale_cron_name``: when ``cron`` is None, the name of a CronWorkflow a previous deploy may have left (the flow
    lost its ``@schedule``); it is deleted so an old schedule does not keep firing.
    """
    _manifest_name(WORKFLOW_TEMPLATE, template)
    if cron is not None:
        _manifest_name(CRON_WORKFLOW, cron)
    with factory() as client:
        objects = ArgoObjects(client, namespace)
        mounted = ConfigMaps(client, namespace)
        for config_map in config_maps:
            mounted.apply(config_map, dry_run=True)
        _apply(objects, WORKFLOW_TEMPLATE, template, dry_run=True)
        if cron is not None:
            _apply(objects, CRON_WORKFLOW, cron, dry_run=True)
        applied_config_maps = tuple(mounted.apply(config_map, dry_run=False) for config_map in config_maps)
        applied_template = _apply(objects, WORKFLOW_TEMPLATE, template, dry_run=False)
        if cron is None:
            removed = stale_cron_name is not None and objects.delete(CRON_WORKFLOW, stale_cron_name)
            return DeployResult(applied_template, None, removed, applied_config_maps)
        try:
            applied_cron = _apply(objects, CRON_WORKFLOW, cron, dry_run=False)
        except DeployError as error:
            raise _cron_failed(objects, applied_template, error) from error
    return DeployResult(applied_template, applied_cron, False, applied_config_maps)


def _cron_failed(objects: ArgoObjects, template: AppliedObject, error: DeployError) -> DeployError:
    """Undo a template this deploy created, or say that an existing template now runs the new version unscheduled."""
    if not template.created:
        state = (
            f"WorkflowTemplate {template.name!r} was updated (resourceVersion {template.resource_version}) but its "
            "CronWorkflow keeps its previous state; run the command again once the cause is fixed."
        )
    else:
        try:
            objects.delete(WORKFLOW_TEMPLATE, template.name)
            state = f"WorkflowTemplate {template.name!r}, created by this deploy, was deleted again: nothing remains."
        except DeployError as cleanup_error:
            state = (
                f"WorkflowTemplate {template.name!r} was created but could not be deleted again ({cleanup_error}); "
                f"remove it with `kubectl delete workflowtemplate {template.name} -n {objects.namespace}`."
            )
    return DeployError(f"{error} {state}", status=error.status)


def delete_flow(
    factory: ApiClientFactory, namespace: str, template_name: str, *, cron_name: str | None = None
) -> DeletedObjects:
    """Delete the CronWorkflow (first, so it cannot start a run of a vanished template; absent is fine), then the
    WorkflowTemplate. ``cron_name`` defaults to the template's name. A missing template is an error."""
    check_name(WORKFLOW_TEMPLATE, template_name)
    with factory() as client:
        objects = ArgoObjects(client, namespace)
        cron_deleted = objects.delete(CRON_WORKFLOW, cron_name or template_name)
        if not objects.delete(WORKFLOW_TEMPLATE, template_name):
            raise DeployError(
                f"WorkflowTemplate {template_name!r} does not exist in namespace {namespace!r}"
                + (" (its CronWorkflow was deleted)" if cron_deleted else "")
            )
    return DeletedObjects(template=True, cron=cron_deleted)
