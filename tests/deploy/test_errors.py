"""Every failure of the cluster reads as a message that says what went wrong and what to do, and deploys nothing."""

from __future__ import annotations

import socket

import pytest

from flowkit.deploy.config import ApiClientFactory, client_factory
from flowkit.deploy.errors import DeployError
from flowkit.deploy.runs import list_runs, submit_workflow
from flowkit.deploy.templates import deploy_flow
from tests.deploy.conftest import cron_manifest, template_manifest
from tests.support.fake_kube import FakeKube


def test_forbidden_names_verb_resource_and_the_service_account(kube: FakeKube, factory: ApiClientFactory) -> None:
    kube.fail("create", "workflowtemplates", 403)

    with pytest.raises(DeployError) as info:
        deploy_flow(factory, "default", template_manifest(), cron_manifest())

    message = str(info.value)
    assert "permission denied: you may not create workflowtemplates.argoproj.io in namespace 'default'" in message
    assert "kubectl auth can-i create workflowtemplates.argoproj.io -n default" in message
    assert "service account" in message
    assert info.value.status == 403
    assert kube.objects == {}


def test_forbidden_list_names_the_list_verb(kube: FakeKube, factory: ApiClientFactory) -> None:
    kube.fail("list", "workflows", 403)

    with pytest.raises(DeployError, match=r"may not list workflows\.argoproj\.io"):
        list_runs(factory, "default", "train-flow")


def test_a_missing_namespace_is_named_and_nothing_is_created(kube: FakeKube, factory: ApiClientFactory) -> None:
    with pytest.raises(DeployError, match=r"namespace 'ml-jobs' does not exist.*kubectl create namespace ml-jobs"):
        deploy_flow(factory, "ml-jobs", template_manifest(), cron_manifest())

    assert kube.objects == {}


def test_an_unreachable_cluster_names_the_address(tmp_path: object) -> None:
    from kubernetes.client import Configuration

    with socket.socket() as probe:  # a port that was free a moment ago: nothing listens on it
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    configuration = Configuration()
    configuration.host = f"http://127.0.0.1:{port}"
    configuration.retries = 0

    with pytest.raises(DeployError, match=rf"cannot reach the Kubernetes API server at http://127.0.0.1:{port}"):
        deploy_flow(client_factory(configuration), "default", template_manifest())


def test_a_422_lists_the_servers_causes(kube: FakeKube, factory: ApiClientFactory) -> None:
    causes = [
        {"field": "spec.templates[1].container.image", "message": "Required value", "reason": "FieldValueRequired"}
    ]
    kube.fail("create", "workflowtemplates", 422, causes=causes, message="WorkflowTemplate is invalid")

    with pytest.raises(DeployError, match=r"rejected WorkflowTemplate 'train-flow'.*container\.image: Required value"):
        deploy_flow(factory, "default", template_manifest())

    assert kube.objects == {}


@pytest.mark.parametrize(
    ("template_name", "cron_name", "limit"),
    [("t" * 64, "short", "at most 63"), ("short", "c" * 53, "at most 52")],
)
def test_a_too_long_name_is_rejected_before_any_request(
    kube: FakeKube, factory: ApiClientFactory, template_name: str, cron_name: str, limit: str
) -> None:
    with pytest.raises(DeployError, match=limit):
        deploy_flow(factory, "default", template_manifest(template_name), cron_manifest(cron_name))

    assert kube.requests == []


def test_a_name_that_is_not_a_kubernetes_name_is_rejected_before_any_request(
    kube: FakeKube, factory: ApiClientFactory
) -> None:
    with pytest.raises(DeployError, match="'Train_Flow' is not a valid Kubernetes name"):
        submit_workflow(factory, "default", "Train_Flow", {})

    assert kube.requests == []


def test_a_cluster_without_argo_says_so(kube: FakeKube, factory: ApiClientFactory) -> None:
    kube.argo_installed = False

    with pytest.raises(
        DeployError, match=r"does not serve workflowtemplates\.argoproj\.io: is Argo Workflows installed"
    ):
        deploy_flow(factory, "default", template_manifest())
