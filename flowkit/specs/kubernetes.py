"""`@kubernetes`: where and how a step's pod runs.

Besides flowkit's own spelling (`pvc={claim: path}`, Kubernetes quantities such as "8Gi"), Metaflow's keywords and
units are accepted so a Metaflow flow ports by changing its import line: `persistent_volume_claims=` is `pvc=`,
integer `memory`/`shared_memory`/`disk` are MiB, and `gpu_vendor="nvidia"|"amd"` picks the GPU resource name.
Everything is normalized at validation time, so the resolved spec has one spelling that the compiler reads.
Locally the spec changes nothing about how a step runs; it is recorded with each task.
"""

from __future__ import annotations

import posixpath
from typing import Any, Literal

from pydantic import AliasChoices, Field, field_validator, model_validator

from flowkit.specs.base import SpecModel
from flowkit.specs.quantity import ByteQuantity, CpuQuantity
from flowkit.specs.validation import (
    SpecFieldError,
    check_annotation_keys,
    check_c_identifier,
    check_dns_label,
    check_dns_subdomain,
    check_label_key,
    check_label_value,
    check_labels,
)

GPU_RESOURCE_NAMES: dict[str, str] = {"nvidia": "nvidia.com/gpu", "amd": "amd.com/gpu"}
"""Metaflow's `gpu_vendor` values and the extended resource each one requests."""


class Toleration(SpecModel):
    """A pod toleration, checked with the rules the Kubernetes API server applies."""

    key: str | None = None
    operator: Literal["Exists", "Equal"] = "Equal"
    value: str | None = None
    effect: Literal["NoSchedule", "PreferNoSchedule", "NoExecute"] | None = None
    toleration_seconds: int | None = Field(
        default=None, ge=0, validation_alias=AliasChoices("toleration_seconds", "tolerationSeconds")
    )

    @field_validator("key")
    @classmethod
    def _key_is_label_key(cls, key: str | None) -> str | None:
        return None if key is None else check_label_key(key, "toleration key")

    def to_kubernetes(self) -> dict[str, Any]:
        """The toleration in a pod spec's spelling (``tolerationSeconds``), unset fields left out."""
        fields = {
            "key": self.key,
            "operator": self.operator,
            "value": self.value,
            "effect": self.effect,
            "tolerationSeconds": self.toleration_seconds,
        }
        return {name: value for name, value in fields.items() if value is not None}

    @model_validator(mode="after")
    def _consistent(self) -> Toleration:
        if self.operator == "Exists" and self.value:
            raise ValueError("operator 'Exists' tolerates any value; leave value unset")
        if self.key is None and self.operator != "Exists":
            raise ValueError("a toleration without a key must use operator 'Exists'")
        if self.toleration_seconds is not None and self.effect != "NoExecute":
            raise ValueError("toleration_seconds only applies to effect 'NoExecute'")
        if self.value is not None:
            check_label_value(self.value, "toleration value")
        return self


class KubernetesSpec(SpecModel):
    """The pod settings of a step. Unset fields mean "not requested": the compiler adds nothing for them."""

    image: str | None = Field(default=None, description="Container image; default: the flow's environment image.")
    image_pull_policy: Literal["Always", "IfNotPresent", "Never"] | None = Field(
        default=None, description="When the kubelet pulls the image; default: Kubernetes' rule for the tag."
    )
    cpu: CpuQuantity | None = Field(default=None, description="CPU request: '500m', '2', or a number of cores.")
    memory: ByteQuantity | None = Field(default=None, description="Memory request: '8Gi', or an integer of MiB.")
    gpu: int = Field(default=0, ge=0, description="Number of GPUs.")
    gpu_resource_name: str = Field(default="nvidia.com/gpu", description="Extended resource that counts GPUs.")
    disk: ByteQuantity | None = Field(default=None, description="Ephemeral storage request: '20Gi', or MiB.")
    shared_memory: ByteQuantity | None = Field(default=None, description="Size of /dev/shm: '1Gi', or MiB.")
    pvc: dict[str, str] = Field(
        default_factory=dict,
        validation_alias=AliasChoices("pvc", "persistent_volume_claims"),
        description="PersistentVolumeClaim name -> absolute mount path in the container.",
    )
    service_account: str | None = Field(default=None, description="ServiceAccount the pod runs as.")
    node_selector: dict[str, str] = Field(default_factory=dict, description="Node labels the pod must run on.")
    tolerations: list[Toleration] = Field(default_factory=list, description="Taints the pod tolerates.")
    env: dict[str, str] = Field(default_factory=dict, description="Environment variables of the pod only.")
    namespace: str | None = Field(default=None, description="Namespace of the step's pod.")
    labels: dict[str, str] = Field(default_factory=dict, description="Extra labels on the step's pod.")
    annotations: dict[str, str] = Field(default_factory=dict, description="Extra annotations on the step's pod.")
    python: str | None = Field(
        default=None,
        description="The image's Python (3.10+): a path or a name on PATH; default: python3, else python.",
    )

    @model_validator(mode="before")
    @classmethod
    def _metaflow_spellings(cls, data: Any) -> Any:
        """Fold Metaflow's `gpu_vendor` into `gpu_resource_name`; refuse `pvc` and its alias together."""
        if not isinstance(data, dict):
            return data
        if "pvc" in data and "persistent_volume_claims" in data:
            raise SpecFieldError("pvc", "give either pvc= or persistent_volume_claims=, not both")
        if "gpu_vendor" not in data:
            return data
        data = dict(data)
        vendor = data.pop("gpu_vendor")
        resource = GPU_RESOURCE_NAMES.get(str(vendor).lower())
        if resource is None:
            raise SpecFieldError("gpu_vendor", f"{vendor!r} is not one of {sorted(GPU_RESOURCE_NAMES)}")
        if data.get("gpu_resource_name", resource) != resource:
            raise SpecFieldError(
                "gpu_vendor", f"{vendor!r} contradicts gpu_resource_name={data['gpu_resource_name']!r}"
            )
        data["gpu_resource_name"] = resource
        return data

    @field_validator("image")
    @classmethod
    def _image_reference(cls, image: str | None) -> str | None:
        if image is not None and (not image or any(char.isspace() for char in image)):
            raise ValueError(f"{image!r} is not an image reference such as 'python:3.11-slim'")
        return image

    @field_validator("python")
    @classmethod
    def _interpreter(cls, python: str | None) -> str | None:
        if python is not None and (not python or any(char.isspace() for char in python)):
            raise ValueError(f"{python!r} is not an interpreter: give a path such as '/opt/conda/bin/python'")
        return python

    @field_validator("gpu", mode="before")
    @classmethod
    def _gpu_is_a_count(cls, gpu: Any) -> Any:
        if isinstance(gpu, bool):
            raise ValueError("must be a number of GPUs, not a boolean")
        return gpu

    @field_validator("pvc")
    @classmethod
    def _mount_paths(cls, claims: dict[str, str]) -> dict[str, str]:
        """Claims are Kubernetes names; mount paths are absolute, normalized, and used by one claim only."""
        normalized: dict[str, str] = {}
        claim_at: dict[str, str] = {}
        for claim, path in claims.items():
            check_dns_subdomain(claim, "claim")
            if not path.startswith("/"):
                raise ValueError(f"mount path {path!r} of claim {claim!r} must be absolute, e.g. '/data'")
            if ".." in path.split("/"):
                raise ValueError(f"mount path {path!r} of claim {claim!r} must not contain '..'")
            clean = posixpath.normpath(path)
            if clean == "/":
                raise ValueError(f"claim {claim!r} cannot be mounted over the container's root '/'")
            if clean in claim_at:
                raise ValueError(f"claims {claim_at[clean]!r} and {claim!r} are both mounted at {clean!r}")
            claim_at[clean] = claim
            normalized[claim] = clean
        return normalized

    @field_validator("service_account")
    @classmethod
    def _service_account_name(cls, name: str | None) -> str | None:
        return None if name is None else check_dns_subdomain(name, "service account")

    @field_validator("namespace")
    @classmethod
    def _namespace_name(cls, name: str | None) -> str | None:
        return None if name is None else check_dns_label(name, "namespace")

    @field_validator("node_selector", "labels")
    @classmethod
    def _labels(cls, labels: dict[str, str]) -> dict[str, str]:
        return check_labels(labels)

    @field_validator("annotations")
    @classmethod
    def _annotation_keys(cls, annotations: dict[str, str]) -> dict[str, str]:
        return check_annotation_keys(annotations)

    @field_validator("env")
    @classmethod
    def _env_names(cls, env: dict[str, str]) -> dict[str, str]:
        for name in env:
            check_c_identifier(name, "environment variable")
        return env
