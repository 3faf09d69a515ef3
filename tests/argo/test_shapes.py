"""Every graph shape compiles to schema-valid manifests with the right DAG structure."""

from __future__ import annotations

import pytest

from tests.argo.conftest import arguments, command_option, compile_manifests, dag_tasks, step_tasks, templates
from tests.argo.flows import (
    SHAPES,
    BranchFlow,
    BranchInForeachFlow,
    ForeachFlow,
    LinearFlow,
    NestedForeachFlow,
    OperatedFlow,
)
from tests.support.argo_schema import validate_manifest


@pytest.mark.parametrize("flow_cls", SHAPES, ids=lambda flow_cls: flow_cls.__name__)
def test_every_shape_validates_against_argo_schema_and_crds(flow_cls: type) -> None:
    manifests = compile_manifests(flow_cls)
    assert manifests[0]["kind"] == "WorkflowTemplate"
    for manifest in manifests:
        validate_manifest(manifest)


def test_linear_steps_depend_on_their_parent() -> None:
    tasks = dag_tasks(compile_manifests(LinearFlow)[0], "flow")
    assert list(tasks) == ["start", "middle", "end"]
    assert "dependencies" not in tasks["start"]
    assert tasks["middle"]["dependencies"] == ["start"]
    assert tasks["end"]["dependencies"] == ["middle"]
    assert all(arguments(task)["index-path"] == "" for task in tasks.values())


def test_branch_and_join_are_plain_dag_dependencies() -> None:
    tasks = dag_tasks(compile_manifests(BranchFlow)[0], "flow")
    assert tasks["left"]["dependencies"] == ["start"]
    assert tasks["right"]["dependencies"] == ["start"]
    assert tasks["join"]["dependencies"] == ["left", "right"]


def test_foreach_body_is_a_dag_template_fanned_out_over_the_split_list() -> None:
    manifest = compile_manifests(ForeachFlow)[0]
    top = dag_tasks(manifest, "flow")
    assert list(top) == ["start", "start-foreach", "join", "end"]
    fan_out = top["start-foreach"]
    assert fan_out["template"] == "body-start"
    assert fan_out["withParam"] == "{{tasks.start.outputs.parameters.splits}}"
    assert fan_out["dependencies"] == ["start"]
    assert arguments(fan_out) == {"index-path": "{{item}}"}
    assert top["join"]["dependencies"] == ["start-foreach"]

    body = dag_tasks(manifest, "body-start")
    assert list(body) == ["square", "shift"]
    assert "dependencies" not in body["square"]
    assert body["shift"]["dependencies"] == ["square"]
    assert {arguments(task)["index-path"] for task in body.values()} == {"{{inputs.parameters.index-path}}"}
    assert templates(manifest)["body-start"]["inputs"] == {"parameters": [{"name": "index-path"}]}

    foreach_template = templates(manifest)[top["start"]["template"]]
    split_path = command_option(foreach_template, "--split-output")
    assert foreach_template["outputs"]["parameters"] == [{"name": "splits", "valueFrom": {"path": split_path[0]}}]


def test_nested_foreach_is_a_nested_dag_extending_the_index_path() -> None:
    manifest = compile_manifests(NestedForeachFlow)[0]
    assert list(dag_tasks(manifest, "flow")) == ["start", "start-foreach", "join-rows", "end"]
    outer = dag_tasks(manifest, "body-start")
    assert list(outer) == ["row", "row-foreach", "join-columns"]
    assert arguments(outer["row-foreach"]) == {"index-path": "{{inputs.parameters.index-path}}.{{item}}"}
    assert outer["row-foreach"]["withParam"] == "{{tasks.row.outputs.parameters.splits}}"
    assert outer["join-columns"]["dependencies"] == ["row-foreach"]
    inner = dag_tasks(manifest, "body-row")
    assert list(inner) == ["cell"]


def test_exit_handler_runs_outside_the_dag_with_the_workflow_status() -> None:
    manifest = compile_manifests(OperatedFlow)[0]
    assert manifest["spec"]["onExit"] == "on-exit"
    assert "report" not in {step for step, _, _ in step_tasks(manifest) if step != "report"}
    assert "report" not in dag_tasks(manifest, "flow")
    (handler,) = dag_tasks(manifest, "on-exit").values()
    assert arguments(handler)["step"] == "report"
    container = templates(manifest)[handler["template"]]
    assert command_option(container, "--workflow-status") == ["{{workflow.status}}"]
    others = [template for step, _, template in step_tasks(manifest) if step != "report"]
    assert all(not command_option(template, "--workflow-status") for template in others)


@pytest.mark.parametrize("flow_cls", SHAPES, ids=lambda flow_cls: flow_cls.__name__)
def test_every_step_runs_the_executor_with_its_own_identity(flow_cls: type) -> None:
    manifest = compile_manifests(flow_cls)[0]
    steps = set()
    for step, task, template in step_tasks(manifest):
        steps.add(step)
        assert command_option(template, "--step") == ["{{inputs.parameters.step}}"]
        assert command_option(template, "--run-id") == ["{{workflow.name}}"]
        assert command_option(template, "--index-path") == ["{{inputs.parameters.index-path}}"]
        assert command_option(template, "--datastore-root") == ["/flowkit"]
        assert arguments(task)["step"] == step
    from flowkit.graph import build_graph

    assert steps == set(build_graph(flow_cls).steps)


def test_a_split_inside_a_foreach_body_and_a_foreach_after_a_join() -> None:
    manifest = compile_manifests(BranchInForeachFlow)[0]
    top = dag_tasks(manifest, "flow")
    assert list(top) == ["start", "start-foreach", "join-letters", "join-letters-foreach", "join-numbers", "end"]
    assert top["join-letters"]["dependencies"] == ["start-foreach"]
    assert top["join-letters-foreach"]["withParam"] == "{{tasks.join-letters.outputs.parameters.splits}}"
    assert top["join-numbers"]["dependencies"] == ["join-letters-foreach"]
    body = dag_tasks(manifest, "body-start")
    assert body["join-branches"]["dependencies"] == ["double", "upper"]
    assert list(dag_tasks(manifest, "body-join-letters")) == ["again"]
