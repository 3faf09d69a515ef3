"""What a namespace needs before flows run in it: their service account, its permissions, and the datastore claim.

Public functions (``factory`` is a `flowkit.deploy.config.ApiClientFactory`):

- ``namespace_objects(setup: NamespaceSetup) -> list[dict]``: the manifests, in the order they must be created;
- ``apply_objects(factory, namespace, objects) -> list[AppliedSetupObject]``: create them through the API.

The objects:

- a ServiceAccount the flow's pods run as (``@argo(service_account=...)``);
- the executor Role and its RoleBinding to that account: since Argo 3.4 every workflow pod reports its outputs by
  creating and patching ``workflowtaskresults``, so without it a step fails after its code succeeded;
- the deployer Role, for whoever runs ``argo-create``/``argo-trigger`` (bind it to a user or a CI account);
- the datastore PersistentVolumeClaim, ReadWriteMany by default: the pods of one run land on many nodes and all
  mount it at once; a ReadWriteOnce volume only works on a single-node cluster.

Applying is idempotent: an existing ServiceAccount or claim is kept as it is (a claim's size and class cannot be
changed in place, and a ServiceAccount may carry tokens or annotations someone added), while the Roles and the
RoleBinding are replaced, so running it again after an upgrade of flowkit grants what the new version needs.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from flowkit.deploy.config import ApiClientFactory
from flowkit.deploy.errors import ApiTarget, DeployError, api_call
from flowkit.specs.quantity import parse_quantity
from flowkit.specs.validation import check_dns_label, check_dns_subdomain

if TYPE_CHECKING:
    from kubernetes.client import ApiClient

EXECUTOR_ROLE = "flowkit-executor"
DEFAULT_SERVICE_ACCOUNT = "flowkit"
DEPLOYER_ROLE = "flowkit-deployer"
LABELS = {"app.kubernetes.io/managed-by": "flowkit"}
ACCESS_MODES = ("ReadWriteMany", "ReadWriteOnce", "ReadWriteOncePod")

DEPLOYER_RULES: list[dict[str, Any]] = [
    {"apiGroups": ["argoproj.io"], "resources": ["workflowtemplates", "cronworkflows"],
     "verbs": ["get", "create", "update", "delete"]},
    {"apiGroups": ["argoproj.io"], "resources": ["workflows"], "verbs": ["create", "list", "get"]},
    # The ConfigMaps pods mount, the bootstrap's and conda environments' (created, or replaced when changed by hand).
    {"apiGroups": [""], "resources": ["configmaps"], "verbs": ["get", "create", "update"]},
    # The package upload pod (not needed when the package is published with --package-dir).
    {"apiGroups": [""], "resources": ["pods"], "verbs": ["create", "get", "delete"]},
    {"apiGroups": [""], "resources": ["pods/exec"], "verbs": ["create", "get"]},
]  # fmt: skip
"""What `argo-create`, `argo-trigger`, `argo-list-runs` and `argo-delete` send (see docs/deploy.md)."""

EXECUTOR_RULES: list[dict[str, Any]] = [
    {"apiGroups": ["argoproj.io"], "resources": ["workflowtaskresults"], "verbs": ["create", "patch"]},
]
"""What Argo's executor in every workflow pod needs (Argo 3.4 and later)."""


@dataclass(frozen=True)
class NamespaceSetup:
    """The choices `flowkit cluster-setup` takes."""

    namespace: str
    service_account: str = DEFAULT_SERVICE_ACCOUNT
    claim: str = "flowkit-datastore"
    size: str = "100Gi"
    storage_class: str | None = None
    """None: the cluster's default StorageClass (which must support the access mode)."""
    access_mode: str = "ReadWriteMany"

    def __post_init__(self) -> None:
        try:
            check_dns_label(self.namespace, "namespace")
            check_dns_subdomain(self.service_account, "service account")
            check_dns_subdomain(self.claim, "claim")
            if self.storage_class is not None:
                check_dns_subdomain(self.storage_class, "storage class")
            if parse_quantity(self.size) <= 0:
                raise ValueError(f"claim size {self.size!r} must be greater than zero")
        except ValueError as error:
            raise DeployError(str(error)) from error
        if self.access_mode not in ACCESS_MODES:
            raise DeployError(f"access mode {self.access_mode!r} is not one of {', '.join(ACCESS_MODES)}")


def _metadata(name: str, namespace: str) -> dict[str, Any]:
    return {"name": name, "namespace": namespace, "labels": dict(LABELS)}


def namespace_objects(setup: NamespaceSetup) -> list[dict[str, Any]]:
    """The manifests of ``setup``, each one complete (``kubectl apply -f`` takes them as they are)."""
    namespace = setup.namespace
    claim_spec: dict[str, Any] = {
        "accessModes": [setup.access_mode],
        "resources": {"requests": {"storage": setup.size}},
    }
    if setup.storage_class is not None:
        claim_spec["storageClassName"] = setup.storage_class
    return [
        {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": _metadata(setup.service_account, namespace)},
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "Role",
            "metadata": _metadata(EXECUTOR_ROLE, namespace),
            "rules": EXECUTOR_RULES,
        },
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "RoleBinding",
            "metadata": _metadata(f"{EXECUTOR_ROLE}-{setup.service_account}"[:253], namespace),
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": EXECUTOR_ROLE},
            "subjects": [{"kind": "ServiceAccount", "name": setup.service_account, "namespace": namespace}],
        },
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "Role",
            "metadata": _metadata(DEPLOYER_ROLE, namespace),
            "rules": DEPLOYER_RULES,
        },
        {
            "apiVersion": "v1",
            "kind": "PersistentVolumeClaim",
            "metadata": _metadata(setup.claim, namespace),
            "spec": claim_spec,
        },
    ]


@dataclass(frozen=True)
class AppliedSetupObject:
    kind: str
    name: str
    outcome: str
    """"created", "replaced", or "kept" (it existed and is left as it is)."""


@dataclass(frozen=True)
class _KindCalls:
    """The typed client calls of one kind: (api class name, create, replace or None to keep an existing one)."""

    api: str
    resource: str
    group: str
    create: str
    replace: str | None


_CALLS = {
    "ServiceAccount": _KindCalls("CoreV1Api", "serviceaccounts", "", "create_namespaced_service_account", None),
    "PersistentVolumeClaim": _KindCalls(
        "CoreV1Api", "persistentvolumeclaims", "", "create_namespaced_persistent_volume_claim", None
    ),
    "Role": _KindCalls(
        "RbacAuthorizationV1Api", "roles", "rbac.authorization.k8s.io", "create_namespaced_role",
        "replace_namespaced_role",
    ),
    "RoleBinding": _KindCalls(
        "RbacAuthorizationV1Api", "rolebindings", "rbac.authorization.k8s.io", "create_namespaced_role_binding",
        "replace_namespaced_role_binding",
    ),
}  # fmt: skip


def _client_call(client: ApiClient, calls: _KindCalls, method: str) -> Callable[..., Any]:
    import kubernetes.client

    api = getattr(kubernetes.client, calls.api)(client)
    bound: Callable[..., Any] = getattr(api, method)
    return bound


def apply_objects(
    factory: ApiClientFactory, namespace: str, objects: Sequence[dict[str, Any]]
) -> list[AppliedSetupObject]:
    """Create each object in ``namespace`` through the official client; see the module docstring for what an
    existing object becomes. Stops at the first failure, with a message naming the object and the permission."""
    applied = []
    with factory() as client:
        host = str(client.configuration.host)
        for body in objects:
            kind, name = body["kind"], body["metadata"]["name"]
            calls = _CALLS[kind]
            try:
                with api_call(ApiTarget("create", calls.resource, calls.group, kind, name, namespace, host)):
                    _client_call(client, calls, calls.create)(namespace, body)
                applied.append(AppliedSetupObject(kind, name, "created"))
                continue
            except DeployError as error:
                if error.status != 409:
                    raise
            if calls.replace is None:
                applied.append(AppliedSetupObject(kind, name, "kept"))
                continue
            with api_call(ApiTarget("update", calls.resource, calls.group, kind, name, namespace, host)):
                _client_call(client, calls, calls.replace)(name, namespace, body)
            applied.append(AppliedSetupObject(kind, name, "replaced"))
    return applied
