"""The local API server behaves like a real one where the deploy tests rely on it."""

from __future__ import annotations

import json
import urllib.error
import urllib.request

from kubernetes.client import CustomObjectsApi
from kubernetes.client.exceptions import ApiException

from flowkit.deploy.config import ApiClientFactory
from tests.deploy.conftest import template_manifest
from tests.support.fake_kube import FakeKube


def create(factory: ApiClientFactory, body: dict[str, object], field_validation: str | None) -> None:
    with factory() as client:
        CustomObjectsApi(client).create_namespaced_custom_object(
            "argoproj.io", "v1alpha1", "default", "workflowtemplates", body, field_validation=field_validation
        )


def test_without_strict_validation_an_unknown_field_is_silently_pruned(
    kube: FakeKube, factory: ApiClientFactory
) -> None:
    manifest = template_manifest()
    manifest["spec"]["entrypointt"] = "typo"

    create(factory, manifest, field_validation=None)

    stored = kube.stored("workflowtemplates", "train-flow")
    assert "entrypointt" not in stored["spec"] and stored["spec"]["entrypoint"] == "dag"


def test_with_strict_validation_an_unknown_field_is_a_bad_request(kube: FakeKube, factory: ApiClientFactory) -> None:
    manifest = template_manifest()
    manifest["spec"]["entrypointt"] = "typo"

    try:
        create(factory, manifest, field_validation="Strict")
    except ApiException as error:
        assert error.status == 400
        message = json.loads(error.body or "{}")["message"]
        assert 'strict decoding error: unknown field "spec.entrypointt"' in message
    else:
        raise AssertionError("the server accepted an unknown field under strict validation")
    assert kube.objects == {}


def test_a_config_map_is_validated_against_kubernetes_schema(kube: FakeKube) -> None:
    """The server, not only the client, refuses a ConfigMap that Kubernetes' schema does not allow."""

    def post(body: dict[str, object]) -> int:
        request = urllib.request.Request(
            f"{kube.url}/api/v1/namespaces/default/configmaps",
            data=json.dumps(body).encode(),
            headers={"Content-Type": "application/json"},
            method="POST",
        )
        try:
            with urllib.request.urlopen(request) as response:
                return int(response.status)
        except urllib.error.HTTPError as error:
            return error.code

    valid = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "scripts"}, "data": {"a.sh": "exit 0"}}
    assert post({**valid, "data": {"a.sh": 42}}) == 422
    assert post({**valid, "immutible": True}) == 422
    assert kube.objects == {}
    assert post(valid) == 201
    assert kube.stored("configmaps", "scripts")["data"] == {"a.sh": "exit 0"}
