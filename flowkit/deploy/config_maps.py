"""The ConfigMaps a flow's pods mount, created or replaced through the kubernetes client's CoreV1Api.

Each one's name is its content's SHA-256 (`flowkit.pod_files`: the bootstrap's scripts, an environment's explicit
files), so an existing ConfigMap of that name that holds the same data is already right and is left alone; one whose
data differs (edited by hand) is replaced, so every pod reads exactly the files its template was compiled with.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, cast

from flowkit.deploy.argo_objects import DRY_RUN_ALL, STRICT
from flowkit.deploy.errors import ApiTarget, api_call

if TYPE_CHECKING:
    from kubernetes.client import ApiClient

CONFIG_MAP_KIND = "ConfigMap"
CONFIG_MAPS = "configmaps"


@dataclass(frozen=True)
class AppliedConfigMap:
    name: str
    action: str
    """'created', 'replaced', or 'unchanged' (an identical one was there already)."""


class ConfigMaps:
    """get / create / replace ConfigMaps in ``namespace``, failures translated like every deploy request."""

    def __init__(self, client: ApiClient, namespace: str) -> None:
        from kubernetes.client import CoreV1Api

        self._api = CoreV1Api(client)
        self._host = str(client.configuration.host)
        self.namespace = namespace

    def _target(self, verb: str, name: str) -> ApiTarget:
        return ApiTarget(verb, CONFIG_MAPS, "", CONFIG_MAP_KIND, name, self.namespace, self._host)

    def get(self, name: str) -> dict[str, Any] | None:
        """The ConfigMap as a plain dict, or None when it does not exist."""
        from kubernetes.client.exceptions import ApiException

        with api_call(self._target("get", name)):
            try:
                found = self._api.read_namespaced_config_map(name, self.namespace)
            except ApiException as error:
                if error.status == 404:
                    return None
                raise
        return cast(dict[str, Any], self._api.api_client.sanitize_for_serialization(found))

    def apply(self, body: Mapping[str, Any], *, dry_run: bool) -> AppliedConfigMap:
        """Create ``body``, keep an existing ConfigMap of its name with equal data, or replace one whose data
        differs (carrying its resourceVersion, so a concurrent change is a conflict, not lost)."""
        from kubernetes.client import V1ConfigMap

        name = str(body["metadata"]["name"])
        dry = DRY_RUN_ALL if dry_run else None
        current = self.get(name)
        if current is None:
            with api_call(self._target("create", name)):
                self._api.create_namespaced_config_map(
                    self.namespace,
                    cast(V1ConfigMap, V1ConfigMap.from_dict(dict(body))),
                    dry_run=dry,
                    field_validation=STRICT,
                )
            return AppliedConfigMap(name, "created")
        if current.get("data") == body.get("data"):
            return AppliedConfigMap(name, "unchanged")
        replacement = copy.deepcopy(dict(body))
        replacement["metadata"]["resourceVersion"] = current["metadata"]["resourceVersion"]
        with api_call(self._target("update", name)):
            self._api.replace_namespaced_config_map(
                name,
                self.namespace,
                cast(V1ConfigMap, V1ConfigMap.from_dict(replacement)),
                dry_run=dry,
                field_validation=STRICT,
            )
        return AppliedConfigMap(name, "replaced")
