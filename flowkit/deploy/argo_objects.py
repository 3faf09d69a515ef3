"""Argo custom objects in one namespace through the kubernetes client's CustomObjectsApi, with errors translated.

Every write asks for strict field validation (``fieldValidation=Strict``): without it the API server silently prunes
a field the cluster's Argo CRD does not know, and the workflow would run without it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, cast

from flowkit.deploy.errors import ApiTarget, api_call
from flowkit.deploy.resources import ARGO_GROUP, ARGO_VERSION, ArgoResource

if TYPE_CHECKING:
    from kubernetes.client import ApiClient

STRICT = "Strict"
DRY_RUN_ALL = "All"


class ArgoObjects:
    """get / create / replace / delete / list Argo objects of any kind in ``namespace``."""

    def __init__(self, client: ApiClient, namespace: str) -> None:
        from kubernetes.client import CustomObjectsApi

        self._api = CustomObjectsApi(client)
        self._host = str(client.configuration.host)
        self.namespace = namespace

    def target(self, verb: str, resource: ArgoResource, name: str | None) -> ApiTarget:
        return ApiTarget(verb, resource.plural, ARGO_GROUP, resource.kind, name, self.namespace, self._host)

    def get(self, resource: ArgoResource, name: str) -> dict[str, Any] | None:
        """The object, or None when it does not exist (a missing object is not an error here)."""
        from kubernetes.client.exceptions import ApiException

        with api_call(self.target("get", resource, name)):
            try:
                found = self._api.get_namespaced_custom_object(
                    ARGO_GROUP, ARGO_VERSION, self.namespace, resource.plural, name
                )
            except ApiException as error:
                if error.status == 404:
                    return None
                raise
        return cast(dict[str, Any], found)

    def create(self, resource: ArgoResource, body: Mapping[str, Any], *, dry_run: bool = False) -> dict[str, Any]:
        name = body.get("metadata", {}).get("name")
        with api_call(self.target("create", resource, name)):
            created = self._api.create_namespaced_custom_object(
                ARGO_GROUP,
                ARGO_VERSION,
                self.namespace,
                resource.plural,
                dict(body),
                dry_run=DRY_RUN_ALL if dry_run else None,
                field_validation=STRICT,
            )
        return cast(dict[str, Any], created)

    def replace(self, resource: ArgoResource, body: Mapping[str, Any], *, dry_run: bool = False) -> dict[str, Any]:
        """Replace the whole object; ``body.metadata.resourceVersion`` makes the server refuse a stale update."""
        name = body["metadata"]["name"]
        with api_call(self.target("update", resource, name)):
            replaced = self._api.replace_namespaced_custom_object(
                ARGO_GROUP,
                ARGO_VERSION,
                self.namespace,
                resource.plural,
                name,
                dict(body),
                dry_run=DRY_RUN_ALL if dry_run else None,
                field_validation=STRICT,
            )
        return cast(dict[str, Any], replaced)

    def delete(self, resource: ArgoResource, name: str) -> bool:
        """Delete the object; False when it was not there."""
        from kubernetes.client.exceptions import ApiException

        with api_call(self.target("delete", resource, name)):
            try:
                self._api.delete_namespaced_custom_object(
                    ARGO_GROUP, ARGO_VERSION, self.namespace, resource.plural, name
                )
            except ApiException as error:
                if error.status == 404:
                    return False
                raise
        return True

    def list(self, resource: ArgoResource, label_selector: str) -> list[dict[str, Any]]:
        with api_call(self.target("list", resource, None)):
            listed = self._api.list_namespaced_custom_object(
                ARGO_GROUP, ARGO_VERSION, self.namespace, resource.plural, label_selector=label_selector
            )
        return cast(list[dict[str, Any]], cast(dict[str, Any], listed).get("items") or [])
