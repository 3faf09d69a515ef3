"""A short-lived helper pod that mounts a PVC, and commands run in it over the exec WebSocket.

The pod only sleeps; work happens through ``exec`` (the kubernetes client's ``stream``), so each step's exit status
and stderr come back to the caller. The pod is deleted when the ``with`` block ends, however it ends; its
``activeDeadlineSeconds`` stops it even if this process is killed before it can delete it.
"""

from __future__ import annotations

import copy
import json
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from types import TracebackType
from typing import TYPE_CHECKING, Any, cast

from flowkit.deploy.errors import ApiTarget, DeployError, api_call
from flowkit.specs.argo import CONTAINER_SECURITY_CONTEXT

if TYPE_CHECKING:
    from kubernetes.client import ApiClient

STDOUT, STDERR, STATUS = 1, 2, 3
STDIN_CHUNK = 1024 * 1024
POLL_SECONDS = 0.2
LABELS = {"app.kubernetes.io/managed-by": "flowkit", "app.kubernetes.io/component": "datastore-upload"}
HELPER_RESOURCES = {"cpu": "100m", "memory": "128Mi"}


@dataclass(frozen=True)
class HelperPodSpec:
    """What the helper pod must look like to be admitted and scheduled where the flow's own pods are."""

    claim: str
    mount_path: str = "/flowkit"
    image: str = "busybox:1.36"
    """Any image with a POSIX shell, head, sha256sum, mv and sync."""
    service_account: str | None = None
    security_context: Mapping[str, Any] = field(default_factory=dict)
    """The pod-level securityContext, in Kubernetes' spelling (`ArgoSpec.pod_security_context`): the same user and
    fsGroup as the flow's pods, so files it writes are theirs to read."""
    image_pull_secrets: Sequence[str] = ()
    node_selector: Mapping[str, str] = field(default_factory=dict)
    tolerations: Sequence[Mapping[str, Any]] = ()
    """In Kubernetes' spelling (``tolerationSeconds``)."""


@dataclass(frozen=True)
class ExecResult:
    stdout: bytes
    stderr: bytes


class HelperPod:
    """``with HelperPod(...) as pod: pod.run([...])`` — a running pod with ``claim`` mounted at ``mount_path``."""

    def __init__(
        self,
        client: ApiClient,
        namespace: str,
        spec: HelperPodSpec,
        *,
        timeout_seconds: float,
    ) -> None:
        from kubernetes.client import CoreV1Api

        self._core = CoreV1Api(client)
        self._host = str(client.configuration.host)
        self.namespace = namespace
        self.timeout_seconds = timeout_seconds
        self.name = ""
        self._manifest = _pod_manifest(spec, timeout_seconds)

    def _target(self, verb: str, resource: str = "pods") -> ApiTarget:
        return ApiTarget(verb, resource, "", "Pod", self.name or None, self.namespace, self._host)

    def __enter__(self) -> HelperPod:
        from kubernetes.client import V1Pod

        with api_call(self._target("create")):
            created = self._core.create_namespaced_pod(self.namespace, cast(V1Pod, V1Pod.from_dict(self._manifest)))
        self.name = str(created.metadata.name if created.metadata else "")
        try:
            self._wait_until_running()
        except BaseException:
            self._delete()
            raise
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, traceback: TracebackType | None
    ) -> None:
        try:
            self._delete()
        except DeployError as error:
            if isinstance(exc, DeployError):
                message = f"{exc} The upload pod {self.name!r} could not be deleted either: {error}"
                raise DeployError(message, status=exc.status) from exc
            if exc is None:
                raise

    def _delete(self) -> None:
        with api_call(self._target("delete")):
            self._core.delete_namespaced_pod(self.name, self.namespace, grace_period_seconds=0)

    def _wait_until_running(self) -> None:
        deadline = time.monotonic() + self.timeout_seconds
        while True:
            with api_call(self._target("get")):
                pod = self._core.read_namespaced_pod(self.name, self.namespace)
            phase = pod.status.phase if pod.status else None
            if phase == "Running":
                return
            if phase in ("Succeeded", "Failed") or time.monotonic() > deadline:
                raise DeployError(
                    f"the upload pod {self.name!r} in namespace {self.namespace!r} did not start "
                    f"(phase {phase or 'unknown'}{_why_not_running(pod)}); it mounts the datastore claim, so check "
                    "that the PersistentVolumeClaim exists and the image can be pulled"
                )
            time.sleep(POLL_SECONDS)

    def run(self, command: list[str], stdin: bytes | None = None) -> ExecResult:
        """Run ``command`` in the pod, feeding it ``stdin``; raise `DeployError` with its stderr unless it exits 0."""
        from kubernetes.stream import stream

        with api_call(self._target("create", "pods/exec")):
            socket = stream(
                self._core.connect_get_namespaced_pod_exec,
                self.name,
                self.namespace,
                command=command,
                stdin=stdin is not None,
                stdout=True,
                stderr=True,
                tty=False,
                binary=True,
                _preload_content=False,
            )
        try:
            if stdin is not None:
                for offset in range(0, len(stdin), STDIN_CHUNK):
                    socket.write_stdin(stdin[offset : offset + STDIN_CHUNK])
                socket.close_channel(0)  # end of stdin; v4 has no such signal, so commands read by size
            socket.run_forever(timeout=self.timeout_seconds)
            if socket.is_open():
                raise DeployError(
                    f"a command in the upload pod {self.name!r} did not finish in {self.timeout_seconds}s"
                )
            result = ExecResult(socket.read_channel(STDOUT), socket.read_channel(STDERR))
            status = socket.read_channel(STATUS)
        finally:
            socket.close()
        _raise_for_exit_status(self.name, status, result.stderr)
        return result


def _raise_for_exit_status(pod: str, status_text: bytes, stderr: bytes) -> None:
    """The exec status channel carries a Kubernetes Status: ``Success``, or a failure with the exit code."""
    try:
        status: dict[str, Any] = json.loads(status_text or b"{}")
    except ValueError:
        status = {}
    if status.get("status") == "Success":
        return
    causes = (status.get("details") or {}).get("causes") or []
    exit_code = next((c.get("message") for c in causes if c.get("reason") == "ExitCode"), None)
    reason = f"exit code {exit_code}" if exit_code else status.get("message") or "no exit status received"
    detail = stderr.decode(errors="replace").strip()
    raise DeployError(f"a command in the upload pod {pod!r} failed ({reason})" + (f": {detail}" if detail else ""))


def _why_not_running(pod: Any) -> str:
    """Container waiting reasons and pod conditions (ErrImagePull, Unschedulable: unbound PVC, ...)."""
    reasons: list[str] = []
    status = pod.status
    for container in (status.container_statuses or []) if status else []:
        waiting = container.state.waiting if container.state else None
        if waiting and waiting.reason:
            reasons.append(f"{waiting.reason}: {waiting.message or ''}".strip(": "))
    for condition in (status.conditions or []) if status else []:
        if condition.status != "True" and condition.reason:
            reasons.append(f"{condition.reason}: {condition.message or ''}".strip(": "))
    if status and status.message:
        reasons.append(status.message)
    return ": " + "; ".join(reasons) if reasons else ""


def _pod_manifest(pod: HelperPodSpec, timeout_seconds: float) -> dict[str, Any]:
    lifetime = int(timeout_seconds * 3)
    spec: dict[str, Any] = {
        "restartPolicy": "Never",
        "activeDeadlineSeconds": lifetime,
        "terminationGracePeriodSeconds": 0,
        "securityContext": dict(pod.security_context),
        "containers": [
            {
                "name": "upload",
                "image": pod.image,
                "command": ["sleep", str(lifetime)],
                "volumeMounts": [{"name": "datastore", "mountPath": pod.mount_path}],
                "securityContext": copy.deepcopy(CONTAINER_SECURITY_CONTEXT),
                # A pod with no requests is refused in a namespace with a ResourceQuota; this one only copies files.
                "resources": {"requests": dict(HELPER_RESOURCES), "limits": dict(HELPER_RESOURCES)},
            }
        ],
        "volumes": [{"name": "datastore", "persistentVolumeClaim": {"claimName": pod.claim}}],
    }
    if pod.service_account:
        spec["serviceAccountName"] = pod.service_account
    if pod.image_pull_secrets:
        spec["imagePullSecrets"] = [{"name": name} for name in pod.image_pull_secrets]
    if pod.node_selector:
        spec["nodeSelector"] = dict(pod.node_selector)
    if pod.tolerations:
        spec["tolerations"] = [dict(toleration) for toleration in pod.tolerations]
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"generateName": "flowkit-upload-", "labels": dict(LABELS)},
        "spec": spec,
    }
