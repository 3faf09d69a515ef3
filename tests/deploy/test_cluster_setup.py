"""`flowkit cluster-setup`: the objects a namespace needs, valid Kubernetes objects, created through the client."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from flowkit.deploy.cluster_setup import (
    DEPLOYER_ROLE,
    EXECUTOR_ROLE,
    NamespaceSetup,
    apply_objects,
    namespace_objects,
)
from flowkit.deploy.config import ApiClientFactory
from flowkit.deploy.errors import DeployError
from flowkit.deploy.templates import deploy_flow
from flowkit.packaging.bootstrap import bootstrap_config_map
from flowkit.settings import CONFIG, DATASTORE_CLAIM, NAMESPACE, SERVICE_ACCOUNT
from tests.deploy.conftest import template_manifest
from tests.support.argo_schema import validate_kubernetes_object
from tests.support.fake_kube import FakeKube

REPO_ROOT = Path(__file__).resolve().parents[2]


def flowkit_console(*arguments: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", "from flowkit.cli.main import main; main()", *arguments],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=REPO_ROOT,
    )


def test_the_objects_are_valid_and_grant_what_argo_pods_need() -> None:
    objects = namespace_objects(NamespaceSetup("ml", service_account="trainer", size="500Gi", storage_class="efs"))
    for body in objects:
        validate_kubernetes_object(body)
    by_kind = {(body["kind"], body["metadata"]["name"]): body for body in objects}
    assert set(by_kind) == {
        ("ServiceAccount", "trainer"),
        ("Role", "flowkit-executor"),
        ("RoleBinding", "flowkit-executor-trainer"),
        ("Role", "flowkit-deployer"),
        ("PersistentVolumeClaim", "flowkit-datastore"),
    }
    executor = by_kind[("Role", EXECUTOR_ROLE)]
    assert {"apiGroups": ["argoproj.io"], "resources": ["workflowtaskresults"], "verbs": ["create", "patch"]} in (
        executor["rules"]
    )
    binding = by_kind[("RoleBinding", "flowkit-executor-trainer")]
    assert binding["roleRef"]["name"] == EXECUTOR_ROLE
    assert binding["subjects"] == [{"kind": "ServiceAccount", "name": "trainer", "namespace": "ml"}]
    claim = by_kind[("PersistentVolumeClaim", "flowkit-datastore")]["spec"]
    assert claim == {
        "accessModes": ["ReadWriteMany"],
        "resources": {"requests": {"storage": "500Gi"}},
        "storageClassName": "efs",
    }
    assert all(body["metadata"]["namespace"] == "ml" for body in objects)


def test_the_deployer_role_allows_every_request_the_bootstrap_config_map_needs(
    kube: FakeKube, factory: ApiClientFactory
) -> None:
    """Create (first deploy), read (every deploy) and replace (after a hand edit), as argo-create sends them."""
    config_map = bootstrap_config_map("default")
    deploy_flow(factory, "default", template_manifest(), config_maps=[config_map])
    kube.stored("configmaps", config_map["metadata"]["name"])["data"] = {"edited": "by hand"}
    deploy_flow(factory, "default", template_manifest(), config_maps=[config_map])
    verbs = {"GET": "get", "POST": "create", "PUT": "update"}
    sent = {verbs[r.method] for r in kube.requests if "/configmaps" in r.path}
    assert sent == {"get", "create", "update"}

    (deployer,) = [
        body for body in namespace_objects(NamespaceSetup("default")) if body["metadata"]["name"] == DEPLOYER_ROLE
    ]
    allowed = {
        verb
        for rule in deployer["rules"]
        if rule["apiGroups"] == [""] and "configmaps" in rule["resources"]
        for verb in rule["verbs"]
    }
    assert sent <= allowed


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"namespace": "ML"}, "namespace 'ML'"),
        ({"size": "lots"}, "not a Kubernetes quantity"),
        ({"access_mode": "ReadOnlyMany"}, "ReadWriteMany"),
        ({"storage_class": "Fast SSD"}, "storage class"),
    ],
)
def test_bad_choices_are_refused_before_anything_is_sent(changes: dict[str, str], message: str) -> None:
    with pytest.raises(DeployError, match=message):
        NamespaceSetup(**{"namespace": "ml", **changes})


def test_apply_creates_then_keeps_the_claim_and_refreshes_the_roles(kube: FakeKube, factory: ApiClientFactory) -> None:
    objects = namespace_objects(NamespaceSetup("default"))
    first = apply_objects(factory, "default", objects)
    assert [applied.outcome for applied in first] == ["created"] * 5
    assert kube.stored("persistentvolumeclaims", "flowkit-datastore")["spec"]["accessModes"] == ["ReadWriteMany"]
    assert kube.stored("roles", EXECUTOR_ROLE)["rules"][0]["resources"] == ["workflowtaskresults"]

    again = apply_objects(factory, "default", objects)
    assert [(applied.kind, applied.outcome) for applied in again] == [
        ("ServiceAccount", "kept"),
        ("Role", "replaced"),
        ("RoleBinding", "replaced"),
        ("Role", "replaced"),
        ("PersistentVolumeClaim", "kept"),
    ]


def test_apply_into_a_missing_namespace_names_it(kube: FakeKube, factory: ApiClientFactory) -> None:
    with pytest.raises(DeployError, match="namespace 'nowhere'"):
        apply_objects(factory, "nowhere", namespace_objects(NamespaceSetup("nowhere")))


def test_the_console_command_prints_yaml_for_kubectl_or_applies(tmp_path: Path, kube: FakeKube) -> None:
    printed = flowkit_console("cluster-setup", "--namespace", "default", "--size", "20Gi")
    assert printed.returncode == 0, printed.stderr
    documents = list(yaml.safe_load_all(printed.stdout))
    assert [document["kind"] for document in documents] == [
        "ServiceAccount", "Role", "RoleBinding", "Role", "PersistentVolumeClaim"
    ]  # fmt: skip
    assert documents[-1]["spec"]["resources"]["requests"]["storage"] == "20Gi"
    assert kube.requests == []

    kubeconfig = str(kube.write_kubeconfig(tmp_path / "kubeconfig"))
    applied = flowkit_console("cluster-setup", "--namespace", "default", "--apply", "--kubeconfig", kubeconfig)
    assert applied.returncode == 0, applied.stderr
    assert "PersistentVolumeClaim flowkit-datastore: created" in applied.stdout
    assert kube.exists("serviceaccounts", "flowkit")

    refused = flowkit_console("cluster-setup", "--namespace", "default", "--size", "-1")
    assert refused.returncode == 1 and "must be greater than zero" in refused.stderr


def test_the_console_command_defaults_to_the_cluster_profile(tmp_path: Path) -> None:
    config = tmp_path / "config.json"
    config.write_text(json.dumps({"namespace": "ml", "service_account": "trainer", "datastore_claim": "ml-data"}))
    env = {**os.environ, CONFIG.env_var: str(config)}
    for setting in (NAMESPACE, SERVICE_ACCOUNT, DATASTORE_CLAIM):
        env.pop(setting.env_var, None)
    printed = subprocess.run(
        [sys.executable, "-c", "from flowkit.cli.main import main; main()", "cluster-setup"],
        capture_output=True, text=True, timeout=120, cwd=REPO_ROOT, env=env,
    )  # fmt: skip
    assert printed.returncode == 0, printed.stderr
    names = {(document["kind"], document["metadata"]["name"]) for document in yaml.safe_load_all(printed.stdout)}
    assert {("ServiceAccount", "trainer"), ("PersistentVolumeClaim", "ml-data")} <= names
    assert {document["metadata"]["namespace"] for document in yaml.safe_load_all(printed.stdout)} == {"ml"}

    env[CONFIG.env_var] = str(tmp_path / "missing.json")
    refused = subprocess.run(
        [sys.executable, "-c", "from flowkit.cli.main import main; main()", "cluster-setup"],
        capture_output=True, text=True, timeout=120, cwd=REPO_ROOT, env=env,
    )  # fmt: skip
    assert refused.returncode == 2 and "give --namespace" in refused.stderr
