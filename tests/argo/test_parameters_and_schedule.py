"""Flow parameters become workflow arguments holding JSON text; @schedule becomes a CronWorkflow."""

from __future__ import annotations

import json

import flowkit
from flowkit import Parameter
from tests.argo.conftest import command_option, compile_manifests, step_tasks
from tests.argo.flows import LinearFlow, OperatedFlow
from tests.support.argo_schema import validate_manifest


def test_parameters_are_workflow_arguments_holding_json_text() -> None:
    spec = compile_manifests(LinearFlow)[0]["spec"]
    values = {parameter["name"]: parameter["value"] for parameter in spec["arguments"]["parameters"]}
    assert values == {"text": '"plain"', "number": "3", "config": json.dumps({"nested": [1, 2, {"k": "v"}]}),
                      "nothing": "null"}  # fmt: skip


def test_only_the_start_step_receives_the_parameters() -> None:
    manifest = compile_manifests(LinearFlow)[0]
    for step, _, template in step_tasks(manifest):
        expected = (
            [f"{name}={{{{workflow.parameters.{name}}}}}" for name in ("text", "number", "config", "nothing")]
            if step == "start"
            else []
        )
        assert command_option(template, "--param") == expected, step


def test_a_required_parameter_has_no_default_value() -> None:
    class RequiredFlow(LinearFlow):
        dataset = Parameter("dataset", required=True)

    parameters = compile_manifests(RequiredFlow)[0]["spec"]["arguments"]["parameters"]
    assert {"name": "dataset"} in parameters


def test_schedule_compiles_to_a_cron_workflow_referencing_the_template() -> None:
    template, cron = compile_manifests(OperatedFlow)
    validate_manifest(cron)
    assert cron["kind"] == "CronWorkflow"
    assert cron["metadata"]["name"] == template["metadata"]["name"] == "operated-flow"
    assert cron["spec"]["schedules"] == ["15 3 * * 1-5"]
    assert cron["spec"]["timezone"] == "Europe/Paris"
    workflow_spec = cron["spec"]["workflowSpec"]
    assert workflow_spec["workflowTemplateRef"] == {"name": "operated-flow"}
    assert workflow_spec["workflowMetadata"]["labels"] == {"workflows.argoproj.io/workflow-template": "operated-flow"}


def test_no_schedule_no_cron_workflow() -> None:
    assert len(compile_manifests(LinearFlow)) == 1


def test_name_and_namespace_from_options_and_decorator() -> None:
    template = compile_manifests(LinearFlow, name="custom", namespace="ml")[0]
    assert (template["metadata"]["name"], template["metadata"]["namespace"]) == ("custom", "ml")

    class NamedFlow(LinearFlow):
        pass

    flowkit.argo(name="from-decorator", namespace="team-a")(NamedFlow)
    template = compile_manifests(NamedFlow)[0]
    assert (template["metadata"]["name"], template["metadata"]["namespace"]) == ("from-decorator", "team-a")
