"""Flow's runtime behaviour: artifact rules, delegation to the CLI and the local runtime."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from flowkit import Flow, FlowSpec, current
from tests.execution import flows
from tests.execution.conftest import execute_flow


def _end_data(root: Path, mode: str) -> tuple[Any, Any]:
    results = execute_flow(flows.ArtifactRulesFlow, root, parameters={"mode": json.dumps(mode)})
    return results, results.get("end")


def test_deleted_artifact_does_not_reach_later_steps_and_artifacts_shadow_class_attributes_and_methods(
    datastore_root: Path,
) -> None:
    from flowkit.datastore import DataStore

    _, end = _end_data(datastore_root, "delete")
    data = {name: DataStore(datastore_root).blobs.load(ref.sha256) for name, ref in end[0].record.artifacts.items()}
    assert data["saw_temporary"] is False
    assert data["saw_constant"] == "artifact wins"
    assert data["saw_flow_method_names"] == ("an artifact named like Flow.run", {"named": "like Flow.main"})
    assert data["run"] == "an artifact named like Flow.run", "Metaflow allows artifacts named like flowkit's methods"


@pytest.mark.parametrize(
    ("mode", "message"),
    [
        ("reserved", "ArtifactRulesFlow.start next: cannot be used as an artifact name"),
        ("step-name", "ArtifactRulesFlow.start end: cannot be used as an artifact name"),
        ("not-a-step", "self.next() takes steps of this flow"),
    ],
)
def test_misuse_fails_the_step_with_a_clear_error(datastore_root: Path, mode: str, message: str) -> None:
    results, end = _end_data(datastore_root, mode)
    start = results["start"][0].record
    assert end is None and start.status == "failed" and start.error is not None
    assert start.error.type == "FlowDefinitionError" and message in start.error.message


def test_instantiating_a_flow_starts_its_cli(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[tuple[type, Any]] = []
    monkeypatch.setattr("flowkit.cli.main.run_flow_cli", lambda flow_cls, argv: calls.append((flow_cls, argv)))
    flows.LinearFlow()
    flows.LinearFlow.main(["show"])
    assert calls == [(flows.LinearFlow, None), (flows.LinearFlow, ["show"])]
    assert FlowSpec is Flow


def test_instances_outside_a_task_explain_themselves() -> None:
    instance = flows.LinearFlow.__new__(flows.LinearFlow)
    with pytest.raises(RuntimeError, match="only inside a running task"):
        instance.value = 1
    assert current.task_id is None and current.pathspec is None


@pytest.mark.e2e
def test_run_from_python_returns_the_client_run(datastore_root: Path) -> None:
    run = flows.LinearFlow.run(count=4, max_workers=1, datastore_root=datastore_root)
    assert run.successful
    assert run.data.message == "hello x4"
    assert run.parameters == {"greeting": "hello", "count": 4}
    assert "middle says hello x4" in run["middle"].task.stdout
