"""Loading the cluster configuration: a kubeconfig file (and its context's namespace), or a pod's service account."""

from __future__ import annotations

from pathlib import Path

import pytest

from flowkit.deploy import config
from flowkit.deploy.errors import DeployError
from flowkit.deploy.runs import submit_workflow
from tests.support.fake_kube import FakeKube


@pytest.fixture
def no_ambient_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Neither $KUBECONFIG, ~/.kube/config nor a pod environment: only what a test sets up counts."""
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.delenv("KUBECONFIG", raising=False)
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)


def test_a_kubeconfig_gives_the_server_and_the_contexts_namespace(
    kube: FakeKube, tmp_path: Path, no_ambient_config: None
) -> None:
    kubeconfig = str(kube.write_kubeconfig(tmp_path / "kubeconfig", namespace="ml-jobs"))
    kube.namespaces.add("ml-jobs")

    namespace = config.default_namespace(kubeconfig)
    name = submit_workflow(config.kube_client_factory(kubeconfig), namespace, "train-flow", {})

    assert namespace == "ml-jobs"
    assert kube.exists("workflows", name, namespace="ml-jobs")
    assert kube.requests[-1].path.startswith("/apis/argoproj.io/v1alpha1/namespaces/ml-jobs/")


def test_no_configuration_at_all_is_a_clear_error(no_ambient_config: None) -> None:
    with pytest.raises(DeployError, match=r"no usable Kubernetes configuration .*--kubeconfig"):
        config.kube_client_factory()


def test_inside_a_pod_the_service_accounts_namespace_is_the_default(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, no_ambient_config: None
) -> None:
    service_account = tmp_path / "serviceaccount"
    service_account.mkdir()
    (service_account / "namespace").write_text("argo\n")
    monkeypatch.setattr(config, "SERVICE_ACCOUNT_DIR", service_account)
    monkeypatch.setenv("KUBERNETES_SERVICE_HOST", "10.0.0.1")

    assert config.default_namespace() == "argo"


def test_kubeconfig_is_read_from_the_environment_when_a_command_runs(
    kube: FakeKube, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, no_ambient_config: None
) -> None:
    """A process that imported the kubernetes client before $KUBECONFIG was set (or changed) uses the new value."""
    from kubernetes.config import kube_config

    # What the client froze at its import: $KUBECONFIG as it was then (here, a file that no longer exists).
    monkeypatch.setattr(kube_config, "KUBE_CONFIG_DEFAULT_LOCATION", str(tmp_path / "stale-kubeconfig"))
    kubeconfig = kube.write_kubeconfig(tmp_path / "kubeconfig-set-later", namespace="late")
    kube.namespaces.add("late")
    monkeypatch.setenv("KUBECONFIG", str(kubeconfig))

    namespace = config.default_namespace()
    name = submit_workflow(config.kube_client_factory(), namespace, "train-flow", {})

    assert namespace == "late"
    assert kube.exists("workflows", name, namespace="late")
