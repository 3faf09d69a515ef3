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
    """Every Argo manifest as the plain dict sent to the Kubernetes API, the WorkflowTemplate first."""
    return [adapt_manifest(obj.to_dict(), manifests.argo_version) for obj in manifests.objects]


def to_documents(manifests: ArgoManifests) -> list[dict[str, Any]]:
    """Everything to deploy, in the order it must be created: the ConfigMaps the pods mount (the bootstrap's, then
    each PVC-built environment's explicit files), then the Argo manifests (`to_dicts`)."""
    return [*manifests.config_maps, *to_dicts(manifests)]


def to_yaml(manifests: ArgoManifests) -> str:
    """Every document of `to_documents` as one ``---``-separated YAML stream, keys in Hera's order (kind and
    metadata first); ``kubectl apply -f`` of it deploys the flow.

    Multi-line strings (the scripts in the bootstrap ConfigMap, an environment's explicit files) are literal blocks,
    so they read as the files they are rather than as one escaped line.
    """
    import yaml

    class Dumper(yaml.SafeDumper):
        pass

    def represent_str(dumper: yaml.SafeDumper, text: str) -> yaml.Node:
        style = "|" if "\n" in text else None
        return dumper.represent_scalar("tag:yaml.org,2002:str", text, style=style)

    Dumper.add_representer(str, represent_str)
    return yaml.dump_all(
        to_documents(manifests), Dumper=Dumper, sort_keys=False, explicit_start=True, allow_unicode=True
    )
