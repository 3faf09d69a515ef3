"""Submitting a run from the deployed template and listing runs with their phases."""

from __future__ import annotations

import json

import pytest

from flowkit.compiler.names import TEMPLATE_LABEL
from flowkit.deploy.config import ApiClientFactory
from flowkit.deploy.errors import DeployError
from flowkit.deploy.runs import list_runs, submit_workflow
from flowkit.deploy.templates import deploy_flow
from tests.deploy.conftest import template_manifest
from tests.support.fake_kube import FakeKube

TRICKY_VALUES = {
    "none": "null",
    "quotes": json.dumps('it\'s "quoted"'),
    "lines": json.dumps("a\nb\r\n\tc"),
    "unicode": json.dumps("żółw 🐢"),
    "nested": json.dumps({"a": [1, {"b": None}], "c": "d'e"}),
}


def test_trigger_returns_the_generated_name_and_passes_parameters_exactly(
    kube: FakeKube, factory: ApiClientFactory
) -> None:
    deploy_flow(factory, "default", template_manifest())

    name = submit_workflow(factory, "default", "train-flow", TRICKY_VALUES)

    assert name.startswith("train-flow-") and len(name) == len("train-flow-") + 5
    workflow = kube.stored("workflows", name)
    assert workflow["spec"]["workflowTemplateRef"] == {"name": "train-flow"}
    sent = {p["name"]: p["value"] for p in workflow["spec"]["arguments"]["parameters"]}
    assert sent == TRICKY_VALUES
    assert workflow["metadata"]["labels"][TEMPLATE_LABEL] == "train-flow"


def test_trigger_refuses_a_value_that_is_not_json_text(kube: FakeKube, factory: ApiClientFactory) -> None:
    with pytest.raises(DeployError, match="parameter 'alpha' must be passed as JSON text"):
        submit_workflow(factory, "default", "train-flow", {"alpha": 0.5})  # type: ignore[dict-item]

    assert kube.requests == []


def test_list_runs_shows_each_run_of_the_template_with_its_phase(kube: FakeKube, factory: ApiClientFactory) -> None:
    first = submit_workflow(factory, "default", "train-flow", {})
    second = submit_workflow(factory, "default", "train-flow", {})
    submit_workflow(factory, "default", "other-flow", {})
    kube.stored("workflows", first)["status"] = {
        "phase": "Succeeded",
        "startedAt": "2026-01-01T00:00:00Z",
        "finishedAt": "2026-01-01T00:05:00Z",
    }
    kube.stored("workflows", second)["status"] = {"phase": "Failed", "message": "child failed"}

    runs = {run.name: run for run in list_runs(factory, "default", "train-flow")}

    assert set(runs) == {first, second}
    assert runs[first].phase == "Succeeded" and runs[first].finished_at == "2026-01-01T00:05:00Z"
    assert (runs[second].phase, runs[second].message) == ("Failed", "child failed")
    listing = [r for r in kube.requests if r.path.endswith("/workflows") and r.method == "GET"]
    assert listing[-1].query["labelSelector"] == [f"{TEMPLATE_LABEL}=train-flow"]


def test_a_run_the_controller_has_not_seen_yet_is_pending(kube: FakeKube, factory: ApiClientFactory) -> None:
    submit_workflow(factory, "default", "train-flow", {})

    assert [run.phase for run in list_runs(factory, "default", "train-flow")] == ["Pending"]
