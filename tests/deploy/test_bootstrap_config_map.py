"""The bootstrap ConfigMap a flow's pods mount: written before the template, kept when identical, restored when
edited, and a refusal leaves nothing deployed."""

from __future__ import annotations

import pytest

from flowkit.deploy.config import ApiClientFactory
from flowkit.deploy.errors import DeployError
from flowkit.deploy.templates import deploy_flow
from flowkit.packaging.bootstrap import bootstrap_config_map, bootstrap_files
from tests.deploy.conftest import cron_manifest, template_manifest
from tests.support.fake_kube import FakeKube

BOOTSTRAP = bootstrap_config_map("default")
NAME = BOOTSTRAP["metadata"]["name"]


def persisted(kube: FakeKube, resource: str) -> list[str]:
    """The methods of the requests on ``resource`` that were not dry runs."""
    return [r.method for r in kube.requests if f"/{resource}" in r.path and r.query.get("dryRun") != ["All"]]


def test_a_new_config_map_is_created_before_the_template(kube: FakeKube, factory: ApiClientFactory) -> None:
    result = deploy_flow(factory, "default", template_manifest(), cron_manifest(), config_maps=[BOOTSTRAP])

    assert [(applied.name, applied.action) for applied in result.config_maps] == [(NAME, "created")]
    assert kube.stored("configmaps", NAME)["data"] == bootstrap_files().files
    writes = [r.path.rsplit("/", 1)[-1] for r in kube.requests if r.method == "POST" and "dryRun" not in r.query]
    assert writes == ["configmaps", "workflowtemplates", "cronworkflows"]
    assert all(r.query.get("fieldValidation") == ["Strict"] for r in kube.requests if r.method == "POST")


def test_an_identical_config_map_is_left_as_it_is(kube: FakeKube, factory: ApiClientFactory) -> None:
    deploy_flow(factory, "default", template_manifest(), config_maps=[BOOTSTRAP])
    version = kube.stored("configmaps", NAME)["metadata"]["resourceVersion"]

    result = deploy_flow(factory, "default", template_manifest(image="python:3.12"), config_maps=[BOOTSTRAP])

    assert [applied.action for applied in result.config_maps] == ["unchanged"]
    assert persisted(kube, "configmaps").count("PUT") == 0
    assert kube.stored("configmaps", NAME)["metadata"]["resourceVersion"] == version


def test_a_config_map_edited_by_hand_is_replaced_with_the_compiled_scripts(
    kube: FakeKube, factory: ApiClientFactory
) -> None:
    deploy_flow(factory, "default", template_manifest(), config_maps=[BOOTSTRAP])
    kube.stored("configmaps", NAME)["data"]["bootstrap.py"] = "import os; os.system('curl evil')"

    result = deploy_flow(factory, "default", template_manifest(), config_maps=[BOOTSTRAP])

    assert [applied.action for applied in result.config_maps] == ["replaced"]
    assert kube.stored("configmaps", NAME)["data"] == bootstrap_files().files


def test_a_config_map_the_role_may_not_create_fails_before_anything_is_written(
    kube: FakeKube, factory: ApiClientFactory
) -> None:
    kube.fail("create", "configmaps", 403)

    with pytest.raises(DeployError, match="may not create configmaps in namespace 'default'"):
        deploy_flow(factory, "default", template_manifest(), config_maps=[BOOTSTRAP])

    assert kube.objects == {}


def test_a_config_map_refused_when_written_leaves_no_template(kube: FakeKube, factory: ApiClientFactory) -> None:
    kube.fail("create", "configmaps", 500, on_dry_run=False)

    with pytest.raises(DeployError, match=NAME):
        deploy_flow(factory, "default", template_manifest(), config_maps=[BOOTSTRAP])

    assert not kube.exists("workflowtemplates", "train-flow")
