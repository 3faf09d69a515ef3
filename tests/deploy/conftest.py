"""Fixtures for the deploy tests: a running fake Kubernetes API server and manifests that Argo's CRDs accept."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from flowkit.deploy.config import ApiClientFactory, client_factory
from tests.support.fake_kube import FakeKube


@pytest.fixture
def kube(tmp_path: Path) -> Iterator[FakeKube]:
    with FakeKube(tmp_path / "cluster") as server:
        yield server


@pytest.fixture
def factory(kube: FakeKube) -> ApiClientFactory:
    configuration = kube.configuration()
    configuration.retries = 0  # an unreachable server fails at once instead of after urllib3's retries
    return client_factory(configuration)


def template_manifest(name: str = "train-flow", image: str = "python:3.11", **spec_extra: Any) -> dict[str, Any]:
    """A minimal valid WorkflowTemplate, as the compiler renders it."""
    return {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "WorkflowTemplate",
        "metadata": {"name": name, "labels": {"app.kubernetes.io/managed-by": "flowkit"}},
        "spec": {
            "entrypoint": "dag",
            "arguments": {"parameters": [{"name": "alpha", "value": "0.5"}]},
            "templates": [
                {"name": "dag", "dag": {"tasks": [{"name": "start", "template": "step"}]}},
                {"name": "step", "container": {"image": image, "command": ["python", "-c", "print(1)"]}},
            ],
            **spec_extra,
        },
    }


def cron_manifest(name: str = "train-flow", schedule: str = "0 * * * *") -> dict[str, Any]:
    return {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "CronWorkflow",
        "metadata": {"name": name},
        "spec": {"schedules": [schedule], "workflowSpec": {"workflowTemplateRef": {"name": name}}},
    }
