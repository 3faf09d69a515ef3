"""Flow-level Argo options (`@argo`) and schedules (`@schedule`).

These specs describe how the whole flow runs on Argo Workflows, so they are class-level only. They are validated
at decoration time: a cron expression with four fields or a pod-GC strategy Argo does not know must fail while the
user is still looking at the decorator, not when the cluster rejects the manifest.
"""

from __future__ import annotations

import re
import zoneinfo
from typing import Any, Literal

from pydantic import Field, ValidationInfo, field_validator

from flowkit.specs.base import SpecModel
from flowkit.specs.validation import check_annotation_keys, check_dns_label, check_dns_subdomain, check_labels

CONTAINER_SECURITY_CONTEXT: dict[str, Any] = {"allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]}}
"""The container-level part of Pod Security "restricted", on every container flowkit creates."""

PackageCache = Literal["volume", "node", "pod"]
"""Where pods cache the extracted code package: see `ArgoSpec.package_cache`."""

PodGCStrategy = Literal["OnPodCompletion", "OnPodSuccess", "OnWorkflowCompletion", "OnWorkflowSuccess"]
"""Argo's podGC strategies; leaving ``pod_gc`` unset keeps every pod."""


class ArgoSpec(SpecModel):
    """Workflow-wide settings of the compiled WorkflowTemplate."""

    name: str | None = Field(default=None, description="Template name; defaults to the flow name, normalized.")
    namespace: str | None = Field(default=None, description="Namespace; defaults to the kubeconfig's current one.")
    ttl_seconds_after_completion: int | None = Field(default=None, ge=0)
    ttl_seconds_after_success: int | None = Field(default=None, ge=0)
    ttl_seconds_after_failure: int | None = Field(default=None, ge=0)
    pod_gc: PodGCStrategy | None = None
    archive_logs: bool | None = Field(
        default=None,
        description="Have Argo archive each pod's logs. Needs an artifact repository configured for the cluster "
        "(artifactRepository in workflow-controller-configmap, or the namespace's artifact-repositories ConfigMap): "
        "without one every pod fails as it finishes. Step output is kept in the datastore either way.",
    )
    parallelism: int | None = Field(default=None, ge=1, description="Most pods of one workflow running at once.")
    on_exit: str | None = Field(default=None, description="A step run as the exit handler, whatever the outcome.")
    run_as_non_root: bool = True
    run_as_user: int | None = Field(default=1000, ge=0)
    fs_group: int | None = Field(
        default=1000,
        ge=0,
        description="Group the kubelet gives the pods' volumes (and the pods as a supplementary group), so that "
        "non-root pods of any uid in it can write the datastore claim; None leaves volumes as they are.",
    )
    cluster_assigns_ids: bool = Field(
        default=False,
        description="Leave runAsUser and fsGroup unset, for clusters that assign them per namespace (OpenShift's "
        "restricted-v2 refuses a uid outside the namespace's range).",
    )
    image_pull_secrets: list[str] = Field(
        default_factory=list, description="Secrets every pod pulls its image with (private or air-gapped registries)."
    )
    upload_image: str = Field(
        default="busybox:1.36",
        description="Image of the pod that copies the code package onto the claim: any image with a POSIX shell, "
        "head, sha256sum, mv and sync (a mirror of busybox on a registry allow-list).",
    )
    datastore_claim: str = Field(default="flowkit-datastore", min_length=1)
    datastore_mount: str = "/flowkit"
    service_account: str | None = None
    labels: dict[str, str] = Field(default_factory=dict, description="Extra labels on the template and its pods.")
    annotations: dict[str, str] = Field(default_factory=dict)
    package_cache: PackageCache = Field(
        default="volume",
        description="Where pods keep the extracted code package: 'volume' (the datastore claim, shared by every "
        "pod), 'node' (a hostPath directory shared by a node's pods), 'pod' (an emptyDir, one extraction per pod).",
    )
    package_cache_host_path: str = Field(
        default="/var/cache/flowkit/packages",
        description="With package_cache='node': the directory on each node (created if missing).",
    )

    @field_validator("name", "namespace")
    @classmethod
    def _rfc1123_label(cls, value: str | None, info: ValidationInfo) -> str | None:
        return None if value is None else check_dns_label(value, str(info.field_name))

    @field_validator("datastore_claim", "service_account")
    @classmethod
    def _object_name(cls, value: str | None, info: ValidationInfo) -> str | None:
        return None if value is None else check_dns_subdomain(value, str(info.field_name).replace("_", " "))

    @field_validator("image_pull_secrets")
    @classmethod
    def _secret_names(cls, names: list[str]) -> list[str]:
        return [check_dns_subdomain(name, "image pull secret") for name in names]

    @field_validator("upload_image")
    @classmethod
    def _upload_image_reference(cls, image: str) -> str:
        if not image or any(char.isspace() for char in image):
            raise ValueError(f"{image!r} is not an image reference such as 'busybox:1.36'")
        return image

    def pod_security_context(self) -> dict[str, Any]:
        """The pod-level securityContext of every pod flowkit creates (tasks, exit handler, package upload), in
        Kubernetes' spelling: the pod-level part of Pod Security "restricted" unless ``run_as_non_root=False``.

        fsGroup makes the kubelet give a freshly provisioned volume (root-owned, mode 0755) to that group,
        group-writable and setgid, and adds the group to every container's process: that is what lets non-root pods
        of any uid write the datastore claim. ``OnRootMismatch`` changes ownership only when the volume's root is not
        already right, so a large datastore is not walked at every pod start. With ``cluster_assigns_ids`` both are
        left to the cluster (OpenShift assigns them from the namespace's range).
        """
        context: dict[str, Any] = {"seccompProfile": {"type": "RuntimeDefault"}}
        if self.run_as_non_root:
            context["runAsNonRoot"] = True
        if self.cluster_assigns_ids:
            return context
        if self.run_as_non_root and self.run_as_user is not None:
            context["runAsUser"] = self.run_as_user
        if self.fs_group is not None:
            context.update(fsGroup=self.fs_group, fsGroupChangePolicy="OnRootMismatch")
        return context

    @field_validator("labels")
    @classmethod
    def _labels(cls, labels: dict[str, str]) -> dict[str, str]:
        return check_labels(labels)

    @field_validator("annotations")
    @classmethod
    def _annotation_keys(cls, annotations: dict[str, str]) -> dict[str, str]:
        return check_annotation_keys(annotations)

    @field_validator("datastore_mount")
    @classmethod
    def _mount_is_absolute(cls, value: str) -> str:
        if not value.startswith("/") or value == "/":
            raise ValueError("must be an absolute path below '/', e.g. '/flowkit'")
        return value.rstrip("/")

    @field_validator("package_cache", mode="before")
    @classmethod
    def _known_package_cache(cls, value: object) -> object:
        if value not in ("volume", "node", "pod"):
            raise ValueError(
                f"{value!r} is not a package cache: use 'volume' (default: on the datastore claim, one extraction "
                "per package for the whole cluster), 'node' (a hostPath directory, one per node) or 'pod' (an "
                "emptyDir, one per pod)"
            )
        return value

    @field_validator("package_cache_host_path")
    @classmethod
    def _host_path_for_node_cache(cls, value: str, info: ValidationInfo) -> str:
        if info.data.get("package_cache") != "node":
            raise ValueError("only applies with package_cache='node'")
        if not value.startswith("/") or value.rstrip("/") == "":
            raise ValueError("must be an absolute path below '/', e.g. '/var/cache/flowkit/packages'")
        return value.rstrip("/")


# One cron field: '*', a number or name, a range, a list, each optionally with a '/step'.
_CRON_ATOM = r"(\*|[0-9A-Za-z]+(-[0-9A-Za-z]+)?)(/[0-9]+)?"
_CRON_FIELD = re.compile(rf"^{_CRON_ATOM}(,{_CRON_ATOM})*$")
_CRON_FIELD_NAMES = ("minute", "hour", "day of month", "month", "day of week")
_CRON_RANGES = ((0, 59), (0, 23), (1, 31), (1, 12), (0, 7))
_CRON_WORDS = (
    (),
    (),
    (),
    ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"),
    ("sun", "mon", "tue", "wed", "thu", "fri", "sat"),
)


def _check_cron_value(token: str, field_index: int) -> None:
    """Reject a number out of the field's range, or a name the field does not accept."""
    low, high = _CRON_RANGES[field_index]
    name = _CRON_FIELD_NAMES[field_index]
    if token.isdigit():
        if not low <= int(token) <= high:
            raise ValueError(f"cron {name} value {token} is outside {low}-{high}")
    elif token.lower() not in _CRON_WORDS[field_index]:
        raise ValueError(f"cron {name} does not accept {token!r}")


def validate_cron(expression: str) -> str:
    """Check a standard 5-field cron expression (minute hour day-of-month month day-of-week)."""
    fields = expression.split()
    if len(fields) != 5:
        raise ValueError(f"cron expression {expression!r} must have 5 fields (minute hour day month weekday)")
    for index, text in enumerate(fields):
        if not _CRON_FIELD.match(text):
            raise ValueError(f"cron {_CRON_FIELD_NAMES[index]} field {text!r} is malformed")
        for atom in text.split(","):
            span, _, step = atom.partition("/")
            if step and int(step) == 0:
                raise ValueError(f"cron {_CRON_FIELD_NAMES[index]} step must be > 0 in {atom!r}")
            for token in span.split("-"):
                if token != "*":
                    _check_cron_value(token, index)
    return " ".join(fields)


class ScheduleSpec(SpecModel):
    """Run the flow on a schedule: compiled into a CronWorkflow that references the WorkflowTemplate."""

    cron: str
    timezone: str | None = Field(default=None, description="IANA zone such as 'Europe/Paris'; default UTC.")
    concurrency_policy: Literal["Allow", "Forbid", "Replace"] | None = None

    @field_validator("cron")
    @classmethod
    def _valid_cron(cls, value: str) -> str:
        return validate_cron(value)

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, value: str | None) -> str | None:
        if value is None:
            return None
        try:
            zoneinfo.ZoneInfo(value)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown timezone {value!r}") from exc
        return value
