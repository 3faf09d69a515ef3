"""Spec models: Metaflow's spellings and units, Kubernetes quantities, normalization, and serialization."""

from __future__ import annotations

import json
import pickle
from decimal import Decimal

import pytest
from pydantic import ValidationError

from flowkit.specs import KubernetesSpec, ResourcesSpec, RetrySpec, StepSpec, TimeoutSpec, Toleration
from flowkit.specs.quantity import larger_quantity, parse_quantity


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("2", Decimal(2)),
        ("500m", Decimal("0.5")),
        ("1.5", Decimal("1.5")),
        (".5", Decimal("0.5")),
        ("5.", Decimal(5)),
        ("1k", Decimal(1000)),
        ("1Ki", Decimal(1024)),
        ("8Gi", Decimal(8 * 1024**3)),
        ("1.5Gi", Decimal(3 * 512 * 1024**2)),
        ("1M", Decimal(10**6)),
        ("1E", Decimal(10**18)),
        ("1e3", Decimal(1000)),
        ("1E3", Decimal(1000)),
        ("12e-1", Decimal("1.2")),
        ("+1Mi", Decimal(1024**2)),
    ],
)
def test_kubernetes_quantity_grammar(text: str, value: Decimal) -> None:
    assert parse_quantity(text) == value


@pytest.mark.parametrize("text", ["", "Gi", "1 Gi", "1gi", "1KiB", "1GB", "1.5.5", "--1", "1e", "1e1.5", "1mi", "0x10"])
def test_malformed_quantities(text: str) -> None:
    with pytest.raises(ValueError, match="is not a Kubernetes quantity"):
        parse_quantity(text)


def test_larger_quantity_compares_numerically() -> None:
    assert larger_quantity("1Gi", "1000Mi") == "1Gi"
    assert larger_quantity("500m", "2") == "2"
    assert larger_quantity(None, "4") == "4"
    assert larger_quantity("4", None) == "4"
    assert larger_quantity(None, None) is None


def test_metaflow_spellings_and_units() -> None:
    spec = KubernetesSpec.model_validate(
        {
            "cpu": 2,
            "memory": 4096,
            "shared_memory": 512,
            "disk": 10240,
            "persistent_volume_claims": {"training-data": "/data/"},
            "gpu": 1,
            "gpu_vendor": "AMD",
            "tolerations": [
                {"key": "gpu", "operator": "Equal", "value": "yes", "effect": "NoExecute", "tolerationSeconds": 30}
            ],
        }
    )
    assert (spec.cpu, spec.memory, spec.shared_memory, spec.disk) == ("2", "4096Mi", "512Mi", "10240Mi")
    assert spec.pvc == {"training-data": "/data"}
    assert spec.gpu_resource_name == "amd.com/gpu"
    assert spec.tolerations == [
        Toleration(key="gpu", operator="Equal", value="yes", effect="NoExecute", toleration_seconds=30)
    ]
    assert {"pvc", "gpu_resource_name"} <= spec.model_fields_set  # aliases fold into canonical fields
    assert KubernetesSpec.model_validate({"cpu": 0.5}).cpu == "0.5"
    assert ResourcesSpec.model_validate({"memory": 2048, "cpu": 4}) == ResourcesSpec(memory="2048Mi", cpu="4")


def test_flowkit_spellings_are_kept_as_written() -> None:
    spec = KubernetesSpec(
        image="ghcr.io/acme/train:1.0",
        cpu="500m",
        memory="8Gi",
        pvc={"data": "/mnt/data"},
        node_selector={"kubernetes.io/arch": "amd64"},
        labels={"app.kubernetes.io/name": "train", "empty": ""},
        annotations={"example.com/owner": "any text at all"},
        env={"_PRIVATE": "1", "OMP_NUM_THREADS": "4"},
        namespace="ml-team",
        service_account="runner.ml",
        image_pull_policy="IfNotPresent",
        tolerations=[Toleration(operator="Exists")],
    )
    assert (spec.cpu, spec.memory, spec.pvc["data"]) == ("500m", "8Gi", "/mnt/data")
    assert spec.gpu == 0 and spec.gpu_resource_name == "nvidia.com/gpu"


def test_specs_are_frozen() -> None:
    spec = KubernetesSpec(image="python:3.11")
    with pytest.raises(ValidationError):
        spec.image = "other"


def test_retry_and_timeout_defaults() -> None:
    assert RetrySpec() == RetrySpec(times=3, minutes_between_retries=2.0, backoff_factor=None)
    assert TimeoutSpec(seconds=30, minutes=2, hours=1).total_seconds == 3600 + 120 + 30
    assert StepSpec(step="start").retry.times == 0


def test_step_spec_dumps_what_its_specs_dump() -> None:
    kubernetes = KubernetesSpec.model_validate(
        {"memory": 4096, "persistent_volume_claims": {"d": "/d"}, "tolerations": [{"operator": "Exists"}]}
    )
    spec = StepSpec(
        step="train",
        kubernetes=kubernetes,
        retry=RetrySpec(times=2),
        timeout=TimeoutSpec(minutes=5),
        environment_vars={"A": "1"},
    )
    dumped = spec.model_dump(mode="json")
    assert json.loads(json.dumps(dumped)) == dumped
    assert dumped == {
        "step": "train",
        "kubernetes": kubernetes.model_dump(mode="json"),
        "retry": {"times": 2, "minutes_between_retries": 2.0, "backoff_factor": None},
        "timeout": {"seconds": 0, "minutes": 5, "hours": 0},
        "environment_vars": {"A": "1"},
        "catch": None,
        "conda": None,
    }
    assert dumped["kubernetes"]["tolerations"] == [
        {"key": None, "operator": "Exists", "value": None, "effect": None, "toleration_seconds": None}
    ]
    assert pickle.loads(pickle.dumps(spec)) == spec
    assert spec != StepSpec(step="train")


def test_a_step_without_decorators_dumps_the_models_defaults_without_building_them() -> None:
    for mode in ("python", "json"):
        for exclude_none in (False, True):
            bare = StepSpec(step="start").model_dump(mode=mode, exclude_none=exclude_none)
            built = StepSpec(step="start", kubernetes=KubernetesSpec(), retry=RetrySpec(times=0))
            assert bare == built.model_dump(mode=mode, exclude_none=exclude_none)
    spec = StepSpec(step="start")
    assert spec.kubernetes == KubernetesSpec() and spec.retry == RetrySpec(times=0)
    assert spec == StepSpec(step="start", kubernetes=KubernetesSpec(), retry=RetrySpec(times=0))
    assert spec.model_dump(exclude_none=True, exclude={"step"}) == {
        "kubernetes": {key: value for key, value in KubernetesSpec().model_dump().items() if value is not None},
        "retry": {"times": 0, "minutes_between_retries": 2.0},
        "environment_vars": {},
    }
    with pytest.raises(AttributeError, match="immutable"):
        spec.step = "other"  # type: ignore[misc]


def test_the_generated_default_dumps_are_the_models_defaults() -> None:
    from flowkit.specs import generate_defaults

    assert generate_defaults.TARGET.read_text() == generate_defaults.render(), (
        "the spec models changed: run python -m flowkit.specs.generate_defaults"
    )
