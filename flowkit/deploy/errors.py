"""Turn Kubernetes client failures into `DeployError` messages a user can act on.

The kubernetes client raises `ApiException` with the server's Status object as JSON text, or urllib3 errors when the
server cannot be reached; neither says what flowkit was doing. Every call in this package runs inside `api_call`,
which knows the verb, the resource, the name and the namespace, and words the error from them.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from flowkit.errors import FlowkitError

_HANDSHAKE_STATUS = re.compile(r"Handshake status (\d{3})")


class DeployError(FlowkitError):
    """A request to the Kubernetes API failed, or would fail, in a way the user has to fix."""

    def __init__(self, message: str, *, status: int | None = None) -> None:
        self.status = status
        super().__init__(message)


@dataclass(frozen=True)
class ApiTarget:
    """What a request does: ``verb`` on ``resource`` (RBAC spelling, e.g. ``workflowtemplates``)."""

    verb: str
    resource: str
    group: str
    kind: str
    name: str | None
    namespace: str
    host: str

    @property
    def what(self) -> str:
        named = f" {self.name!r}" if self.name else "s"
        return f"{self.kind}{named} in namespace {self.namespace!r}"

    @property
    def rbac_resource(self) -> str:
        return f"{self.resource}.{self.group}" if self.group else self.resource


@contextmanager
def api_call(target: ApiTarget) -> Iterator[None]:
    """Run one Kubernetes request; re-raise any failure as a `DeployError` that describes ``target``."""
    import urllib3
    from kubernetes.client.exceptions import ApiException

    try:
        yield
    except ApiException as error:
        raise translate_api_exception(error, target) from error
    except urllib3.exceptions.HTTPError as error:
        raise unreachable(target, str(error)) from error


def unreachable(target: ApiTarget, reason: str) -> DeployError:
    """The server did not answer at all: the kubeconfig points at a cluster that is down or elsewhere."""
    return DeployError(
        f"cannot reach the Kubernetes API server at {target.host} (while trying to {target.verb} {target.what}): "
        f"{reason}. Check that the cluster is running and that your kubeconfig context is the right one "
        "(kubectl config current-context)."
    )


def server_status(error: Any) -> dict[str, Any]:
    """The Kubernetes Status object in an ApiException's body, or {} when the body is not one."""
    try:
        status = json.loads(error.body or "")
    except (TypeError, ValueError):
        return {}
    return status if isinstance(status, dict) else {}


def translate_api_exception(error: Any, target: ApiTarget) -> DeployError:
    """Word an `ApiException` for ``target`` by its HTTP status and the server's Status details."""
    code: int = error.status or 0
    handshake = _HANDSHAKE_STATUS.search(str(error.reason)) if code == 0 else None
    if handshake:  # a WebSocket (exec) request the server answered with an HTTP error instead of switching
        code = int(handshake.group(1))
    status = server_status(error)
    message = status.get("message") or error.reason or "no message"
    details = status.get("details") or {}
    if code == 0:
        return unreachable(target, str(error.reason))
    if code == 401:
        text = f"the cluster at {target.host} did not accept your credentials: {message}. Log in again."
    elif code == 403:
        text = (
            f"permission denied: you may not {target.verb} {target.rbac_resource} in namespace "
            f"{target.namespace!r} (server said: {message}). Ask for a Role granting {target.verb!r} on "
            f"{target.resource!r} in API group {target.group or 'core'!r}; check with `kubectl auth can-i "
            f"{target.verb} {target.rbac_resource} -n {target.namespace}`. Inside a pod, the identity is the pod's "
            "service account (serviceAccountName), which needs that Role bound to it."
        )
    elif code == 404 and details.get("kind") == "namespaces":
        text = (
            f"namespace {target.namespace!r} does not exist in the cluster at {target.host}; create it "
            f"(kubectl create namespace {target.namespace}) or choose another with --namespace"
        )
    elif code == 404 and not details:
        text = (
            f"the cluster at {target.host} does not serve {target.rbac_resource}: is Argo Workflows installed "
            f"(its CRDs)? ({message})"
        )
    elif code == 404:
        text = f"{target.what} does not exist"
    elif code == 409:
        text = (
            f"conflict while trying to {target.verb} {target.what}: {message}. Someone else changed it at the "
            "same time; run the command again."
        )
    elif code in (400, 422):
        text = f"the API server rejected {target.what}: " + _rejection_reasons(message, details)
    else:
        text = f"could not {target.verb} {target.what}: HTTP {code}: {message}"
    return DeployError(text, status=code)


def _rejection_reasons(message: str, details: dict[str, Any]) -> str:
    """List each cause (field: message) of a 422 Invalid, or the message of a 400 strict-decoding error."""
    causes = details.get("causes") or []
    lines = [f"{cause.get('field', '?')}: {cause.get('message', '')}".strip() for cause in causes]
    if lines:
        return "; ".join(lines)
    if "unknown field" in message:
        return (
            f"{message}. The Argo CRDs installed in the cluster do not know this field: flowkit asks for strict "
            "field validation so that it is reported instead of silently dropped (is Argo older than expected?)."
        )
    return message
