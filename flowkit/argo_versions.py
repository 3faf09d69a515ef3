"""The Argo Workflows versions flowkit supports, and what each one needs in the manifests.

Clusters in use run 3.5, 3.6, 3.7 and 4.x, and they differ in a field flowkit emits: a CronWorkflow's schedule is
``spec.schedule`` (one cron string) up to 3.5, both ``schedule`` and ``spec.schedules`` (a list) in 3.6 and 3.7,
and ``schedules`` only in 4.x. A 3.x install usually runs Argo's *minimal* CRDs, which store an unknown field
without a word, so a manifest written for the wrong version deploys fine and its schedule never fires: the version
must be known when the manifests are written (``argo-create --argo-version``), not discovered on the cluster.

Hera's models follow the newest Argo, so the compiler always builds the 4.x shape and `adapt_manifest` rewrites
what an older version spells differently, when the manifests are rendered.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from flowkit.errors import FlowkitError
from flowkit.settings import ARGO_VERSION

SUPPORTED_ARGO_VERSIONS = ("3.5", "3.6", "3.7", "4")
"""Every minor version of 3.x listed, and any 4.x."""
DEFAULT_ARGO_VERSION = str(ARGO_VERSION.default)

_VERSION = re.compile(r"^v?(?P<major>\d+)(?:\.(?P<minor>\d+|x)(?:\.\d+)?)?$")


@dataclass(frozen=True)
class ArgoVersion:
    """A supported Argo Workflows version; ``minor`` is None for "any 4.x"."""

    major: int
    minor: int | None

    @classmethod
    def parse(cls, text: str) -> ArgoVersion:
        """``"3.5"``, ``"v3.6.19"``, ``"4"``, ``"4.1"`` or ``"4.x"``; anything else, or an unsupported version, is a
        `FlowkitError` listing the supported ones."""
        match = _VERSION.match(text.strip())
        supported = ", ".join(f"{version}{'.x' if '.' not in version else ''}" for version in SUPPORTED_ARGO_VERSIONS)
        if match is None:
            raise FlowkitError(f"Argo version {text!r} is not a version such as 3.6 or 4.1 (supported: {supported})")
        major = int(match["major"])
        minor = None if match["minor"] in (None, "x") else int(match["minor"])
        if major == 4:
            return cls(4, None)
        if major != 3 or minor is None or f"3.{minor}" not in SUPPORTED_ARGO_VERSIONS:
            raise FlowkitError(f"Argo {text} is not supported (supported: {supported})")
        return cls(major, minor)

    @property
    def knows_schedules_list(self) -> bool:
        """Whether ``CronWorkflow.spec.schedules`` exists (3.6 and later)."""
        return self.major > 3 or (self.minor or 0) >= 6

    def __str__(self) -> str:
        return f"{self.major}.x" if self.minor is None else f"{self.major}.{self.minor}"


def adapt_manifest(document: dict[str, Any], version: ArgoVersion) -> dict[str, Any]:
    """``document`` (as Hera renders it, in 4.x's shape) in the spelling ``version`` understands."""
    if document.get("kind") != "CronWorkflow" or version.knows_schedules_list:
        return document
    spec = dict(document["spec"])
    (spec["schedule"],) = spec.pop("schedules")  # flowkit emits one schedule per flow
    return {**document, "spec": spec}
