"""Creating, updating and deleting a flow's WorkflowTemplate and CronWorkflow through the real kubernetes client."""

from __future__ import annotations

import pytest

from flowkit.deploy.config import ApiClientFactory
from flowkit.deploy.errors import DeployError
from flowkit.deploy.templates import delete_flow, deploy_flow
from tests.deploy.conftest import cron_manifest, template_manifest
from tests.support.fake_kube import FakeKube


def writes(kube: FakeKube) -> list[tuple[str, str]]:
    """(method, path) of every persisted write, dry runs left out."""
    return [(r.method, r.path) for r in kube.requests if r.method != "GET" and r.query.get("dryRun") != ["All"]]


def test_create_then_update_replaces_the_body_with_the_current_resource_version(
    kube: FakeKube, factory: ApiClientFactory
) -> None:
    first = deploy_flow(factory, "default", template_manifest(image="python:3.11"))
    assert first.template.created
    version_before = kube.stored("workflowtemplates", "train-flow")["metadata"]["resourceVersion"]

    second = deploy_flow(factory, "default", template_manifest(image="python:3.12"))

    assert not second.template.created
    replace = [r for r in kube.requests if r.method == "PUT" and r.query.get("dryRun") != ["All"]]
    assert [r.body["metadata"]["resourceVersion"] for r in replace] == [version_before]
    stored = kube.stored("workflowtemplates", "train-flow")
    assert stored["spec"]["templates"][1]["container"]["image"] == "python:3.12"
    assert stored["metadata"]["generation"] == 2
    assert second.template.resource_version == stored["metadata"]["resourceVersion"]


def test_every_write_asks_for_strict_field_validation(kube: FakeKube, factory: ApiClientFactory) -> None:
    deploy_flow(factory, "default", template_manifest(), cron_manifest())
    deploy_flow(factory, "default", template_manifest(), cron_manifest())
    written = [r for r in kube.requests if r.method in ("POST", "PUT")]
    assert len(written) == 8  # two kinds x (dry run + write) x two deploys
    assert all(r.query.get("fieldValidation") == ["Strict"] for r in written)


def test_an_unknown_field_is_an_error_naming_it_and_nothing_is_deployed(
    kube: FakeKube, factory: ApiClientFactory
) -> None:
    manifest = template_manifest()
    manifest["spec"]["templates"][1]["container"]["imagePullPolicyy"] = "Always"

    with pytest.raises(DeployError, match=r'unknown field "spec\.templates\[1\]\.container\.imagePullPolicyy"') as info:
        deploy_flow(factory, "default", manifest, cron_manifest())

    assert "strict field validation" in str(info.value)
    assert kube.objects == {}


def test_a_value_the_crd_rejects_is_reported_with_the_servers_causes(kube: FakeKube, factory: ApiClientFactory) -> None:
    manifest = template_manifest(retryStrategy={"retryPolicy": "Sometimes"})

    with pytest.raises(DeployError, match=r"rejected WorkflowTemplate 'train-flow'.*spec\.retryStrategy\.retryPolicy"):
        deploy_flow(factory, "default", manifest)

    assert kube.objects == {}


def test_a_conflicting_update_is_retried_once_with_a_fresh_resource_version(
    kube: FakeKube, factory: ApiClientFactory
) -> None:
    deploy_flow(factory, "default", template_manifest())
    kube.fail("update", "workflowtemplates", 409, message="the object has been modified")

    result = deploy_flow(factory, "default", template_manifest(image="python:3.12"))

    assert (
        result.template.resource_version
        == kube.stored("workflowtemplates", "train-flow")["metadata"]["resourceVersion"]
    )
    assert kube.stored("workflowtemplates", "train-flow")["spec"]["templates"][1]["container"]["image"] == "python:3.12"


def test_a_template_created_concurrently_is_read_again_and_replaced(kube: FakeKube, factory: ApiClientFactory) -> None:
    kube.fail("create", "workflowtemplates", 409, message='workflowtemplates "train-flow" already exists',
              on_dry_run=False)  # fmt: skip

    result = deploy_flow(factory, "default", template_manifest())

    assert result.template.created
    creates = [r for r in kube.requests if r.method == "POST" and r.query.get("dryRun") != ["All"]]
    assert len(creates) == 2
    assert kube.exists("workflowtemplates", "train-flow")


def test_a_conflict_that_persists_is_a_clear_error(kube: FakeKube, factory: ApiClientFactory) -> None:
    deploy_flow(factory, "default", template_manifest())
    kube.fail("update", "workflowtemplates", 409, times=2, message="the object has been modified")

    with pytest.raises(DeployError, match=r"conflict while trying to update WorkflowTemplate 'train-flow'.*again"):
        deploy_flow(factory, "default", template_manifest(image="python:3.12"))

    assert kube.stored("workflowtemplates", "train-flow")["spec"]["templates"][1]["container"]["image"] == "python:3.11"


def test_the_cron_is_validated_before_the_template_is_written(kube: FakeKube, factory: ApiClientFactory) -> None:
    kube.fail("create", "cronworkflows", 403)

    with pytest.raises(DeployError, match=r"may not create cronworkflows\.argoproj\.io"):
        deploy_flow(factory, "default", template_manifest(), cron_manifest())

    assert kube.objects == {}
    assert writes(kube) == []


def test_a_cron_failing_after_a_new_template_rolls_the_template_back(kube: FakeKube, factory: ApiClientFactory) -> None:
    kube.fail("create", "cronworkflows", 403, on_dry_run=False)

    with pytest.raises(DeployError, match="created by this deploy, was deleted again: nothing remains"):
        deploy_flow(factory, "default", template_manifest(), cron_manifest())

    assert kube.objects == {}


def test_a_cron_failing_after_a_template_update_says_what_remains(kube: FakeKube, factory: ApiClientFactory) -> None:
    deploy_flow(factory, "default", template_manifest(), cron_manifest())
    kube.fail("update", "cronworkflows", 403, on_dry_run=False)
    new_cron = cron_manifest("train-flow", "5 * * * *")

    with pytest.raises(DeployError, match=r"'train-flow' was updated .* CronWorkflow keeps its previous state"):
        deploy_flow(factory, "default", template_manifest(image="python:3.12"), new_cron)

    assert kube.stored("cronworkflows", "train-flow")["spec"]["schedules"] == ["0 * * * *"]


def test_deploying_without_a_schedule_removes_a_stale_cron(kube: FakeKube, factory: ApiClientFactory) -> None:
    deploy_flow(factory, "default", template_manifest(), cron_manifest())

    result = deploy_flow(factory, "default", template_manifest(), stale_cron_name="train-flow")

    assert result.removed_stale_cron
    assert not kube.exists("cronworkflows", "train-flow")
    assert kube.exists("workflowtemplates", "train-flow")


def test_delete_removes_template_and_cron(kube: FakeKube, factory: ApiClientFactory) -> None:
    deploy_flow(factory, "default", template_manifest(), cron_manifest())

    deleted = delete_flow(factory, "default", "train-flow")

    assert (deleted.template, deleted.cron) == (True, True)
    assert kube.objects == {}


def test_delete_tolerates_a_missing_cron_but_not_a_missing_template(kube: FakeKube, factory: ApiClientFactory) -> None:
    deploy_flow(factory, "default", template_manifest())
    assert delete_flow(factory, "default", "train-flow").cron is False

    with pytest.raises(DeployError, match="WorkflowTemplate 'train-flow' does not exist in namespace 'default'"):
        delete_flow(factory, "default", "train-flow")
