"""Render compiled Hera objects: plain dicts to deploy (sent as JSON), YAML for humans.

Hera's ``to_dict`` is the only serializer: the manifests are never written by hand, so what a user reads with
``argo-create --only-yaml`` is exactly what ``argo-create`` sends. Hera writes the newest Argo's shape; fields an
older Argo spells differently are adapted for the version the manifests were compiled for.
"""

from __future__ import annotations

from typing import Any

from flowkit.argo_versions import adapt_manifest
from flowkit.compiler.compiler import ArgoManifests


def to_dicts(manifests: ArgoManifests) -> list[dict[str, Any]]:
    """Every manifest as the plain dict sent to the Kubernetes API, the WorkflowTemplate first."""
    return [adapt_manifest(obj.to_dict(), manifests.argo_version) for obj in manifests.objects]


def to_yaml(manifests: ArgoManifests) -> str:
    """Every manifest as one ``---``-separated YAML stream, keys in Hera's order (kind and metadata first)."""
    import yaml

    return yaml.safe_dump_all(to_dicts(manifests), sort_keys=False, explicit_start=True, allow_unicode=True)
