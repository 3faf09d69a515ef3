"""The schema checks accept what a cluster accepts and reject what it rejects, each for the right reason."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from typing import Any

import pytest
import yaml

from tests.harness.manifests import minimal_workflow_template, step_template
from tests.support.argo_schema import (
    ARGO_DATA_DIR,
    ARGO_VERSIONS,
    ManifestInvalid,
    manifest_errors,
    resolve_argo_version,
    validate_kubernetes_object,
    validate_manifest,
    validate_manifest_stream,
)


def test_minimal_workflow_template_passes_both_checks() -> None:
    manifest = minimal_workflow_template()
    assert manifest_errors(manifest) == []
    validate_manifest(manifest)


def test_unknown_field_fails_in_both_checks() -> None:
    manifest = minimal_workflow_template()
    step_template(manifest)["container"]["imagePullPolcy"] = "Always"
    errors = manifest_errors(manifest)
    path = "$.spec.templates[1].container"
    assert any(e.startswith(f"json-schema: {path}:") and "imagePullPolcy" in e for e in errors), errors
    assert any(e.startswith(f"crd: {path}:") and "imagePullPolcy" in e for e in errors), errors
    with pytest.raises(ManifestInvalid, match="imagePullPolcy"):
        validate_manifest(manifest)


def test_unknown_metadata_field_fails() -> None:
    manifest = minimal_workflow_template()
    manifest["metadata"]["label"] = {"a": "b"}
    assert any("json-schema: $.metadata:" in e for e in manifest_errors(manifest))


def test_free_form_maps_stay_open() -> None:
    manifest = minimal_workflow_template()
    manifest["metadata"]["annotations"] = {"flowkit.dev/anything": "x"}
    manifest["spec"]["podMetadata"] = {"labels": {"any-key": "v"}}
    step_template(manifest)["nodeSelector"] = {"gpu": "a100"}
    assert manifest_errors(manifest) == []


@pytest.mark.parametrize(
    ("field", "value"),
    [(("retryStrategy", "limit"), 3), (("retryStrategy", "backoff", "factor"), 2), (("activeDeadlineSeconds",), 60)],
)
def test_integer_int_or_string_fields_pass(field: tuple[str, ...], value: int) -> None:
    manifest = minimal_workflow_template()
    target = step_template(manifest)
    for key in field[:-1]:
        target = target.setdefault(key, {})
    target[field[-1]] = value
    assert manifest_errors(manifest) == []


def test_unknown_retry_policy_fails_the_crd_enum() -> None:
    manifest = minimal_workflow_template()
    step_template(manifest)["retryStrategy"]["retryPolicy"] = "Sometimes"
    errors = manifest_errors(manifest)
    assert [e for e in errors if e.startswith("crd: $.spec.templates[1].retryStrategy.retryPolicy:")], errors
    assert not [e for e in errors if e.startswith("json-schema:")], "Argo's JSON schema has no such enum"


def test_malformed_quantity_fails_the_crd_pattern() -> None:
    manifest = minimal_workflow_template()
    step_template(manifest)["container"]["resources"]["requests"]["memory"] = "lots"
    errors = manifest_errors(manifest)
    assert [e for e in errors if e.startswith("crd: $.spec.templates[1].container.resources.requests.memory:")]
    with pytest.raises(ManifestInvalid, match="lots"):
        validate_manifest(manifest)


def test_integer_quantity_passes() -> None:
    manifest = minimal_workflow_template()
    step_template(manifest)["container"]["resources"]["limits"]["nvidia.com/gpu"] = 1
    assert [e for e in manifest_errors(manifest) if e.startswith("crd:")] == []


def test_crd_item_limits_are_enforced() -> None:
    """Argo's CRD caps a DAG at 200 tasks: a compiler must not emit more in one DAG."""
    manifest = minimal_workflow_template()
    manifest["spec"]["templates"][0]["dag"]["tasks"] = [{"name": f"t{i}", "template": "step"} for i in range(201)]
    assert any(e.startswith("crd: $.spec.templates[0].dag.tasks:") for e in manifest_errors(manifest))


def _cron_workflow(**schedule: Any) -> dict[str, Any]:
    """A CronWorkflow running the minimal template, with the schedule field(s) given."""
    template_spec = minimal_workflow_template()["spec"]
    return {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "CronWorkflow",
        "metadata": {"name": "hello-flow"},
        "spec": {
            **schedule,
            "timezone": "Europe/Paris",
            "concurrencyPolicy": "Forbid",
            "workflowSpec": {"workflowTemplateRef": {"name": "hello-flow"}, "arguments": template_spec["arguments"]},
        },
    }


def test_cron_workflow_passes() -> None:
    cron = _cron_workflow(schedules=["0 3 * * *"])
    validate_manifest(cron)
    cron["spec"]["concurrencyPolicy"] = "Whenever"
    assert any(e.startswith("crd: $.spec.concurrencyPolicy:") for e in manifest_errors(cron))


def test_workflow_kind_passes() -> None:
    workflow = minimal_workflow_template()
    workflow["kind"] = "Workflow"
    workflow["metadata"] = {"generateName": "hello-flow-"}
    validate_manifest(workflow)


def test_unknown_kind_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="cannot validate kind 'Deployment'"):
        validate_manifest({"kind": "Deployment"})


@pytest.mark.parametrize(
    ("argo_version", "accepted", "refused"),
    [
        ("3.5", {"schedule"}, {"schedules"}),
        ("3.6", {"schedule", "schedules"}, set()),
        ("3.7", {"schedule", "schedules"}, set()),
        ("4.1", {"schedules"}, {"schedule"}),
    ],
)
def test_cron_schedule_field_is_checked_per_argo_version(
    argo_version: str, accepted: set[str], refused: set[str]
) -> None:
    """Each release's CRD knows its own schedule field: 3.5 only `schedule`, 3.6-3.7 both, 4.x only `schedules`."""
    spellings = {"schedule": "0 3 * * *", "schedules": ["0 3 * * *"]}
    for field in accepted:
        validate_manifest(_cron_workflow(**{field: spellings[field]}), argo_version=argo_version)
    for field in refused:
        with pytest.raises(
            ManifestInvalid, match=f"(?s)Argo {resolve_argo_version(argo_version)}.*'{field}' was unexpected"
        ):
            validate_manifest(_cron_workflow(**{field: spellings[field]}), argo_version=argo_version)


@pytest.mark.parametrize("argo_version", ARGO_VERSIONS)
def test_minimal_template_passes_every_stored_version(argo_version: str) -> None:
    assert manifest_errors(minimal_workflow_template(), argo_version=argo_version) == []


def test_older_versions_are_checked_against_their_crd_only() -> None:
    """Argo publishes its JSON schema for the newest release only, so a 3.x check reports CRD errors alone."""
    manifest = minimal_workflow_template()
    step_template(manifest)["container"]["imagePullPolcy"] = "Always"
    errors = manifest_errors(manifest, argo_version="3.7")
    assert errors and all(error.startswith("crd") for error in errors), errors


def test_unknown_argo_version_is_a_clear_error() -> None:
    assert resolve_argo_version("3.6") == "3.6.19"
    assert resolve_argo_version("4.1.2") == "4.1.2"
    with pytest.raises(ValueError, match=r"no Argo '3\.4' schemas are stored: expected one of 3\.5\.15"):
        validate_manifest(minimal_workflow_template(), argo_version="3.4")


def test_stored_schema_files_match_their_recorded_checksums() -> None:
    """The README beside the files records each one's sha256: the copies stay byte-for-byte what Argo published."""
    readme = (ARGO_DATA_DIR / "README.md").read_text()
    recorded = dict(re.findall(r"^\| `([^`]+\.(?:json|yaml))` \| `([0-9a-f]{64})` \|$", readme, re.MULTILINE))
    stored = {
        str(path.relative_to(ARGO_DATA_DIR))
        for path in ARGO_DATA_DIR.rglob("*")
        if path.is_file() and path.suffix != ".md"
    }
    assert set(recorded) == stored
    for name, digest in recorded.items():
        assert hashlib.sha256((ARGO_DATA_DIR / name).read_bytes()).hexdigest() == digest, name


def _upload_pod() -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "flowkit-upload"},
        "spec": {
            "restartPolicy": "Never",
            "containers": [{"name": "upload", "image": "busybox", "command": ["sleep", "600"]}],
            "volumes": [{"name": "data", "persistentVolumeClaim": {"claimName": "flowkit-datastore"}}],
        },
    }


def test_kubernetes_pod_passes_and_unknown_field_fails() -> None:
    pod = _upload_pod()
    validate_kubernetes_object(pod)
    pod["spec"]["restartPolcy"] = "Never"
    with pytest.raises(ManifestInvalid, match="restartPolcy"):
        validate_kubernetes_object(pod)


def test_yaml_stream_validates_each_document_by_kind() -> None:
    stream = yaml.safe_dump_all([minimal_workflow_template(), _upload_pod()])
    assert [doc["kind"] for doc in validate_manifest_stream(stream)] == ["WorkflowTemplate", "Pod"]
    broken = minimal_workflow_template()
    step_template(broken)["retryStrategy"]["retryPolicy"] = "Sometimes"
    with pytest.raises(ManifestInvalid, match="retryPolicy"):
        validate_manifest_stream(yaml.safe_dump_all([_upload_pod(), broken]))


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda m: m["spec"]["templates"][0].update(activeDeadlineSeconds=60), "only valid for leaf templates"),
        (lambda m: step_template(m).update(dag={"tasks": []}), "at most one template type"),
        (lambda m: m["spec"]["templates"][0]["dag"]["tasks"][1].update(depends="start"), "both 'depends'"),
        (lambda m: m["spec"]["templates"][0]["dag"]["tasks"][1].update(name="2nd"), "cannot begin with a digit"),
    ],
)
def test_crd_validation_rules_are_enforced(mutate: Callable[[dict[str, Any]], None], message: str) -> None:
    manifest = minimal_workflow_template()
    mutate(manifest)
    errors = manifest_errors(manifest)
    assert any(error.startswith("crd-rule: $.spec.templates") and message in error for error in errors), errors
