"""`PodFiles`: files a pod reads before flowkit is importable there, delivered as a content-addressed ConfigMap.

The scripts of the pod path (the package bootstrap, the conda materializer) and the explicit install files of an
environment built on the shared volume do not belong on a container's command line: pasted there, they made every
distinct pod spec add kilobytes to the WorkflowTemplate (Argo's 1 MiB workflow limit, etcd's 1.5 MiB request limit)
and every pod carry them twice (command and ARGO_TEMPLATE). Each set of files is instead one ConfigMap, mounted
read-only, whose name holds a digest of its content (`content_name`, or a digest the pod checks the files against,
such as an environment's id): a template names exactly the files it was compiled with, equal files share one object,
and a deploy never changes what an older template's runs read. ConfigMaps are objects the API
server protects, like the workflow spec, so what a pod runs before any check keeps the trust it had on the command
line.

Only the manifest is built here (standard library only); `flowkit.deploy.config_maps` sends it.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

NAME_HASH_LENGTH = 20
"""Hex digits of a digest in a ConfigMap's name (80 bits: no two contents collide in practice)."""
FILE_MODE = 0o444
"""Readable by whatever uid the pod runs as, writable by none."""
MANAGED_BY_LABEL = "app.kubernetes.io/managed-by"
COMPONENT_LABEL = "app.kubernetes.io/component"


def content_name(prefix: str, files: Mapping[str, str]) -> str:
    """``<prefix><sha256 of the files>``: equal files, equal name."""
    canonical = json.dumps(dict(files), sort_keys=True).encode("utf-8")
    return f"{prefix}{hashlib.sha256(canonical).hexdigest()[:NAME_HASH_LENGTH]}"


@dataclass(frozen=True)
class PodFiles:
    """Files (name → text) that the containers of a template mount read-only at ``mount_path``.

    ``optional``: whether a pod starts when the ConfigMap is missing (its directory is then empty). A script that is
    itself delivered this way cannot say what is missing, so it is not optional; a script that reads optional files
    reports their absence in one line instead of leaving the pod waiting for a volume that never comes.
    """

    name: str
    """The ConfigMap's name, and the volume's: a digest of the files (see the module)."""
    component: str
    """The ``app.kubernetes.io/component`` label: ``kubectl delete configmap -l`` finds every one of a kind."""
    mount_path: str
    files: Mapping[str, str]
    optional: bool = False

    def config_map(self, namespace: str | None) -> dict[str, Any]:
        """The ConfigMap manifest in ``namespace`` (None: the cluster's default)."""
        metadata: dict[str, Any] = {
            "name": self.name,
            "labels": {MANAGED_BY_LABEL: "flowkit", COMPONENT_LABEL: self.component},
        }
        if namespace is not None:
            metadata["namespace"] = namespace
        return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": metadata, "data": dict(self.files)}
