"""Hand-written Argo manifests for the harness's own tests: small, readable, and independent of the compiler."""

from __future__ import annotations

import copy
from typing import Any

Manifest = dict[str, Any]

_MINIMAL_WORKFLOW_TEMPLATE: Manifest = {
    "apiVersion": "argoproj.io/v1alpha1",
    "kind": "WorkflowTemplate",
    "metadata": {"name": "hello-flow", "labels": {"app.kubernetes.io/name": "hello-flow"}},
    "spec": {
        "entrypoint": "main",
        "arguments": {"parameters": [{"name": "greeting", "value": '"hi"'}]},
        "templates": [
            {
                "name": "main",
                "dag": {
                    "tasks": [
                        {"name": "start", "template": "step"},
                        {"name": "end", "template": "step", "dependencies": ["start"]},
                    ]
                },
            },
            {
                "name": "step",
                "retryStrategy": {"limit": "2", "retryPolicy": "Always"},
                "container": {
                    "image": "python:3.10",
                    "command": ["python", "-c", "print('hi')"],
                    "resources": {"requests": {"cpu": "500m", "memory": "1Gi"}, "limits": {"nvidia.com/gpu": "1"}},
                },
            },
        ],
    },
}


def minimal_workflow_template() -> Manifest:
    """A fresh copy of a small valid WorkflowTemplate (DAG of two container tasks) that each test may mutate."""
    return copy.deepcopy(_MINIMAL_WORKFLOW_TEMPLATE)


def step_template(manifest: Manifest) -> Manifest:
    """The container template named ``step`` inside :func:`minimal_workflow_template`'s manifest."""
    return next(template for template in manifest["spec"]["templates"] if template["name"] == "step")


DATA_CLAIM = "harness-data"
#: Where test pods see the PVC. Chosen so that it does not exist on the host: tests check it is never created.
DATA_MOUNT = "/flowkit-harness-pvc"
_DATA_MOUNTS = [{"name": "data", "mountPath": DATA_MOUNT}]


def workflow_template(
    *templates: Manifest, parameters: dict[str, str] | None = None, entrypoint: str = "main", **spec: Any
) -> Manifest:
    """A WorkflowTemplate named ``harness`` with the PVC volume ``data`` and the given templates and parameters."""
    full_spec: Manifest = {
        "entrypoint": entrypoint,
        "volumes": [{"name": "data", "persistentVolumeClaim": {"claimName": DATA_CLAIM}}],
        "templates": list(templates),
        **spec,
    }
    if parameters is not None:
        full_spec["arguments"] = {"parameters": [{"name": k, "value": v} for k, v in parameters.items()]}
    return {"apiVersion": "argoproj.io/v1alpha1", "kind": "WorkflowTemplate", "metadata": {"name": "harness"},
            "spec": full_spec}  # fmt: skip


def dag(name: str, *tasks: Manifest, inputs: tuple[str, ...] = (), outputs: dict[str, str] | None = None) -> Manifest:
    """A DAG template; ``outputs`` maps output name → ``valueFrom.parameter`` expression."""
    template: Manifest = {"name": name, "dag": {"tasks": list(tasks)}}
    return _with_io(template, inputs, {name: {"parameter": value} for name, value in (outputs or {}).items()})


def task(name: str, template: str, *, arguments: dict[str, str] | None = None, **fields: Any) -> Manifest:
    """A DAG task calling ``template``; ``fields`` adds dependencies, depends, withParam, withItems..."""
    entry: Manifest = {"name": name, "template": template, **fields}
    if arguments:
        entry["arguments"] = {"parameters": [{"name": k, "value": v} for k, v in arguments.items()]}
    return entry


def python_step(name: str, code: str, **options: Any) -> Manifest:
    """A container template running ``python -c code`` with the PVC mounted (see :func:`container_step`)."""
    return container_step(name, ["python", "-c", code], **options)


def sh_step(name: str, script: str, **options: Any) -> Manifest:
    """A container template running ``sh -c script`` with the PVC mounted (see :func:`container_step`)."""
    return container_step(name, ["sh", "-c", script], **options)


def container_step(
    name: str,
    command: list[str],
    *,
    args: tuple[str, ...] = (),
    inputs: tuple[str, ...] = (),
    outputs: dict[str, str] | None = None,
    env: dict[str, str] | None = None,
    **fields: Any,
) -> Manifest:
    """A container template; ``outputs`` maps output name → file path; ``fields`` adds template fields."""
    container: Manifest = {"image": "python:3.10", "command": command, "volumeMounts": list(_DATA_MOUNTS)}
    if args:
        container["args"] = list(args)
    if env:
        container["env"] = [{"name": k, "value": v} for k, v in env.items()]
    template: Manifest = {"name": name, "container": container, **fields}
    return _with_io(template, inputs, {name: {"path": path} for name, path in (outputs or {}).items()})


def _with_io(template: Manifest, inputs: tuple[str, ...], outputs: dict[str, Manifest]) -> Manifest:
    if inputs:
        template["inputs"] = {"parameters": [{"name": name} for name in inputs]}
    if outputs:
        template["outputs"] = {"parameters": [{"name": k, "valueFrom": v} for k, v in outputs.items()]}
    return template
