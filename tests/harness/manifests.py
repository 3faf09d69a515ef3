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
