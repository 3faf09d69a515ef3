"""Start a run of a deployed flow and list its runs.

Public functions (``factory`` is a `flowkit.deploy.config.ApiClientFactory`):

- ``submit_workflow(factory, namespace, template_name, parameters, *, labels=None) -> str`` (the Workflow's name)
- ``list_runs(factory, namespace, template_name) -> list[WorkflowRun]`` (newest first)
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from flowkit.compiler.names import TEMPLATE_LABEL
from flowkit.deploy.argo_objects import ArgoObjects
from flowkit.deploy.config import ApiClientFactory
from flowkit.deploy.errors import DeployError
from flowkit.deploy.resources import (
    ARGO_API_VERSION,
    WORKFLOW,
    WORKFLOW_TEMPLATE,
    check_generate_name,
    check_name,
)


@dataclass(frozen=True)
class WorkflowRun:
    name: str
    phase: str
    """Argo's phase (Pending, Running, Succeeded, Failed, Error); Pending until the controller has seen the run."""
    started_at: str | None
    finished_at: str | None
    message: str | None


def submit_workflow(
    factory: ApiClientFactory,
    namespace: str,
    template_name: str,
    parameters: Mapping[str, str],
    *,
    labels: Mapping[str, str] | None = None,
) -> str:
    """Create a Workflow that runs the WorkflowTemplate ``template_name``; return the name the server generated.

    ``parameters`` maps each flow parameter to its value as JSON text (`Parameter.to_json`); the text is passed
    through untouched, so quotes, newlines and unicode reach the start step exactly.
    """
    check_name(WORKFLOW_TEMPLATE, template_name)
    generate_name = check_generate_name(WORKFLOW, f"{template_name}-")
    for name, value in parameters.items():
        if not isinstance(value, str):
            raise DeployError(f"parameter {name!r} must be passed as JSON text (str), got {type(value).__name__}")
    body: dict[str, Any] = {
        "apiVersion": ARGO_API_VERSION,
        "kind": WORKFLOW.kind,
        "metadata": {"generateName": generate_name, "labels": {**(labels or {}), TEMPLATE_LABEL: template_name}},
        "spec": {
            "workflowTemplateRef": {"name": template_name},
            "arguments": {"parameters": [{"name": name, "value": value} for name, value in parameters.items()]},
        },
    }
    with factory() as client:
        created = ArgoObjects(client, namespace).create(WORKFLOW, body)
    return str(created["metadata"]["name"])


def list_runs(factory: ApiClientFactory, namespace: str, template_name: str) -> list[WorkflowRun]:
    """The Workflows labelled as runs of ``template_name`` (a CronWorkflow's runs need the same label in its
    ``workflowMetadata``), newest first."""
    check_name(WORKFLOW_TEMPLATE, template_name)
    with factory() as client:
        items = ArgoObjects(client, namespace).list(WORKFLOW, f"{TEMPLATE_LABEL}={template_name}")
    items.sort(key=lambda item: str(item["metadata"].get("creationTimestamp", "")), reverse=True)
    return [_run(item) for item in items]


def _run(item: Mapping[str, Any]) -> WorkflowRun:
    status = item.get("status") or {}
    return WorkflowRun(
        name=str(item["metadata"]["name"]),
        phase=str(status.get("phase") or "Pending"),
        started_at=status.get("startedAt"),
        finished_at=status.get("finishedAt"),
        message=status.get("message"),
    )
