"""A local HTTP server that answers the Kubernetes API's JSON, for testing the deploy layer with the real client.

It serves what ``flowkit.deploy`` uses: Argo's custom resources (workflowtemplates, workflows, cronworkflows: create
with generateName and dryRun, get, replace with a resourceVersion check, list by labelSelector, delete), namespaces,
configmaps (validated with ``kubernetes-validate``, 422 when invalid), pods, and the pod ``exec`` WebSocket
(``v4.channel.k8s.io`` or ``v5.channel.k8s.io``, framed by wsproto). An exec really runs its command on this machine,
with the pod's PVC mount path mapped to a local directory per claim, so an upload writes real files.

Writes to Argo resources are validated like an API server does: against the ``openAPIV3Schema`` of Argo's full CRDs
(via ``tests.support.argo_schema``/``argo_openapi``). An unknown field is a 400 strict-decoding error under
``fieldValidation=Strict`` and silently pruned otherwise; other schema errors are 422 Invalid with causes.
Failures can be injected per verb and resource: `FakeKube.fail`.
"""

from __future__ import annotations

import copy
import itertools
import json
import random
import re
import string
import subprocess
import threading
from dataclasses import dataclass, field
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import yaml
from wsproto.connection import Connection, ConnectionType
from wsproto.events import BytesMessage, CloseConnection, Message, Ping
from wsproto.utilities import generate_accept_token

from tests.support.argo_schema import ManifestInvalid, crd_validator, validate_kubernetes_object

ARGO_KIND_BY_RESOURCE = {
    "workflowtemplates": "WorkflowTemplate",
    "workflows": "Workflow",
    "cronworkflows": "CronWorkflow",
}
_ARGO_PATH = re.compile(
    r"^/apis/argoproj\.io/v1alpha1/namespaces/(?P<ns>[^/]+)/(?P<resource>workflowtemplates|workflows|cronworkflows)"
    r"(?:/(?P<name>[^/]+))?$"
)
_POD_PATH = re.compile(r"^/api/v1/namespaces/(?P<ns>[^/]+)/(?P<resource>pods)(?:/(?P<name>[^/]+))?(?P<exec>/exec)?$")
_CONFIG_MAP_PATH = re.compile(r"^/api/v1/namespaces/(?P<ns>[^/]+)/(?P<resource>configmaps)(?:/(?P<name>[^/]+))?$")
_SETUP_PATH = re.compile(
    r"^/(?:api/v1|apis/rbac\.authorization\.k8s\.io/v1)/namespaces/(?P<ns>[^/]+)"
    r"/(?P<resource>serviceaccounts|persistentvolumeclaims|roles|rolebindings)(?:/(?P<name>[^/]+))?$"
)
"""What `flowkit cluster-setup` creates: stored as sent, without validation."""
_NAMESPACE_PATH = re.compile(r"^/api/v1/namespaces/(?P<name>[^/]+)$")
_REASONS = {400: "BadRequest", 403: "Forbidden", 404: "NotFound", 409: "Conflict", 422: "Invalid"}
_VERBS = {"GET": "get", "POST": "create", "PUT": "update", "DELETE": "delete"}


class ApiFailure(Exception):
    """Answer the current request with a Kubernetes Status of ``code``."""

    def __init__(self, code: int, message: str, details: dict[str, Any] | None = None, reason: str | None = None):
        super().__init__(message)
        self.status = {
            "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure", "message": message,
            "reason": reason or _REASONS.get(code, "InternalError"), "details": details or {}, "code": code,
        }  # fmt: skip
        self.code = code


@dataclass
class RecordedRequest:
    method: str
    path: str
    query: dict[str, list[str]]
    body: Any


@dataclass
class Injection:
    verb: str
    resource: str
    code: int
    times: int
    message: str | None
    causes: list[dict[str, str]] | None
    on_dry_run: bool | None


def _field_path(parts: Any) -> str:
    return "".join(f"[{part}]" if isinstance(part, int) else f".{part}" for part in parts).lstrip(".")


@dataclass
class FakeKube:
    """The server's state; start it with ``with FakeKube(root) as kube:`` and talk to ``kube.configuration()``."""

    root: Path
    namespaces: set[str] = field(default_factory=lambda: {"default"})
    exec_protocol: str = "v4.channel.k8s.io"
    pod_start_status: dict[str, Any] = field(default_factory=lambda: {"phase": "Running"})
    corrupt_execs: set[int] = field(default_factory=set)
    """Indexes (0 = the first exec) of exec sessions whose stdin gets its first byte flipped in transit."""
    exec_count: int = 0
    argo_installed: bool = True
    objects: dict[tuple[str, str, str], dict[str, Any]] = field(default_factory=dict)
    requests: list[RecordedRequest] = field(default_factory=list)
    deleted_pods: list[str] = field(default_factory=list)
    injections: list[Injection] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._lock = threading.RLock()
        self._versions = itertools.count(1)
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self._server.daemon_threads = True

    def __enter__(self) -> FakeKube:
        threading.Thread(target=self._server.serve_forever, args=(0.05,), daemon=True).start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def configuration(self) -> Any:
        from kubernetes.client import Configuration

        configuration = Configuration()
        configuration.host = self.url
        return configuration

    def write_kubeconfig(self, path: Path, namespace: str = "default") -> Path:
        config = {
            "apiVersion": "v1", "kind": "Config", "current-context": "fake",
            "clusters": [{"name": "fake", "cluster": {"server": self.url}}],
            "users": [{"name": "fake", "user": {"token": "fake-token"}}],
            "contexts": [{"name": "fake", "context": {"cluster": "fake", "user": "fake", "namespace": namespace}}],
        }  # fmt: skip
        path.write_text(yaml.safe_dump(config))
        return path

    def pvc_dir(self, claim: str) -> Path:
        directory = self.root / "pvc" / claim
        directory.mkdir(parents=True, exist_ok=True)
        return directory

    def fail(self, verb: str, resource: str, code: int, *, times: int = 1, message: str | None = None,
             causes: list[dict[str, str]] | None = None, on_dry_run: bool | None = None) -> None:  # fmt: skip
        """Answer the next ``times`` requests doing ``verb`` on ``resource`` (e.g. ``pods/exec``) with ``code``;
        ``on_dry_run`` True/False restricts it to dry-run requests or to those that persist."""
        self.injections.append(Injection(verb, resource, code, times, message, causes, on_dry_run))

    def stored(self, resource: str, name: str, namespace: str = "default") -> dict[str, Any]:
        return self.objects[(resource, namespace, name)]

    def exists(self, resource: str, name: str, namespace: str = "default") -> bool:
        return (resource, namespace, name) in self.objects

    # --- request handling -------------------------------------------------------------------------------------
    def _injected(self, verb: str, resource: str, namespace: str, name: str | None, dry_run: bool = False) -> None:
        for injection in self.injections:
            if injection.on_dry_run not in (None, dry_run):
                continue
            if injection.times > 0 and (injection.verb, injection.resource) == (verb, resource):
                injection.times -= 1
                group = "argoproj.io" if resource in ARGO_KIND_BY_RESOURCE else ""
                message = injection.message or (
                    f'{resource}.{group} "{name}" is forbidden: User "system:serviceaccount:{namespace}:default" '
                    f'cannot {verb} resource "{resource}" in API group "{group}" in the namespace "{namespace}"'
                    if injection.code == 403 else f"injected failure {injection.code}"
                )  # fmt: skip
                details: dict[str, Any] = {"name": name or "", "group": group, "kind": resource}
                if injection.causes:
                    details["causes"] = injection.causes
                raise ApiFailure(injection.code, message, details)

    def _validate(self, kind: str, body: dict[str, Any], strict: bool) -> None:
        """Raise what an API server would; without strict validation, drop unknown fields from ``body`` as it does."""
        errors = list(crd_validator(kind).iter_errors(body))
        unknown: list[tuple[dict[str, Any], str, str]] = []
        for error in (e for e in errors if e.validator == "additionalProperties"):
            for key in set(error.instance) - set(error.schema.get("properties", {})):
                unknown.append((error.instance, key, _field_path([*error.absolute_path, key])))
        if unknown and strict:
            listing = ", ".join(f'unknown field "{path}"' for _, _, path in unknown)
            message = f'{kind} in version "v1alpha1" cannot be handled as a {kind}: strict decoding error: {listing}'
            raise ApiFailure(400, message)
        invalid = [e for e in errors if e.validator != "additionalProperties"]
        if invalid:
            name = body.get("metadata", {}).get("name", "")
            causes = [{"reason": "FieldValueInvalid", "message": e.message[:200], "field": _field_path(e.absolute_path)}
                      for e in invalid]  # fmt: skip
            raise ApiFailure(422, f'{kind}.argoproj.io "{name}" is invalid', {"name": name, "causes": causes})
        for container, key, _ in unknown:
            del container[key]

    def _validate_builtin(self, resource: str, body: dict[str, Any]) -> None:
        """A ConfigMap is checked against Kubernetes' own schema, as the API server checks it."""
        if resource != "configmaps":
            return
        try:
            validate_kubernetes_object(body)
        except ManifestInvalid as error:
            name = body.get("metadata", {}).get("name", "")
            raise ApiFailure(
                422, f'ConfigMap "{name}" is invalid: {error}', {"name": name, "kind": "configmaps"}
            ) from error

    def _create(self, resource: str, namespace: str, body: dict[str, Any], query: dict[str, list[str]]) -> Any:
        if namespace not in self.namespaces:
            raise ApiFailure(404, f'namespaces "{namespace}" not found', {"name": namespace, "kind": "namespaces"})
        metadata = body.setdefault("metadata", {})
        if "name" not in metadata and "generateName" in metadata:
            suffix = "".join(random.choices(string.ascii_lowercase + string.digits, k=5))
            metadata["name"] = metadata["generateName"] + suffix
        name = metadata.get("name", "")
        if (resource, namespace, name) in self.objects:
            raise ApiFailure(409, f'{resource} "{name}" already exists', {"name": name}, reason="AlreadyExists")
        if resource in ARGO_KIND_BY_RESOURCE:
            self._validate(ARGO_KIND_BY_RESOURCE[resource], body, query.get("fieldValidation") == ["Strict"])
        self._validate_builtin(resource, body)
        stamp = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
        metadata.update(namespace=namespace, uid=f"uid-{next(self._versions)}", creationTimestamp=stamp,
                        resourceVersion=str(next(self._versions)), generation=1)  # fmt: skip
        if resource == "pods":
            body["status"] = {"phase": "Pending"}
        if query.get("dryRun") != ["All"]:
            self.objects[(resource, namespace, name)] = body
        return body

    def _replace(self, resource: str, namespace: str, name: str, body: dict[str, Any], query: dict[str, list[str]]):
        current = self._existing(resource, namespace, name)
        version = body.get("metadata", {}).get("resourceVersion")
        if resource not in ARGO_KIND_BY_RESOURCE:
            version = version or current["metadata"]["resourceVersion"]  # built-in kinds allow unconditional updates
        if not version:
            cause = {"reason": "FieldValueInvalid", "field": "metadata.resourceVersion",
                     "message": "Invalid value: 0x0: must be specified for an update"}  # fmt: skip
            raise ApiFailure(422, f'{resource} "{name}" is invalid', {"name": name, "causes": [cause]})
        if version != current["metadata"]["resourceVersion"]:
            message = f'Operation cannot be fulfilled on {resource}.argoproj.io "{name}": the object has been modified'
            raise ApiFailure(409, f"{message}; please apply your changes to the latest version and try again")
        if resource in ARGO_KIND_BY_RESOURCE:
            self._validate(ARGO_KIND_BY_RESOURCE[resource], body, query.get("fieldValidation") == ["Strict"])
        self._validate_builtin(resource, body)
        body.setdefault("metadata", {})
        kept = {key: current["metadata"][key] for key in ("uid", "creationTimestamp", "namespace")}
        body["metadata"].update(kept, resourceVersion=str(next(self._versions)),
                                generation=current["metadata"]["generation"] + 1)  # fmt: skip
        if query.get("dryRun") != ["All"]:
            self.objects[(resource, namespace, name)] = body
        return body

    def _existing(self, resource: str, namespace: str, name: str) -> dict[str, Any]:
        found = self.objects.get((resource, namespace, name))
        if found is None:
            raise ApiFailure(404, f'{resource} "{name}" not found', {"name": name, "kind": resource})
        return found

    def _list(self, resource: str, namespace: str, selector: str) -> dict[str, Any]:
        wanted = [term.partition("=")[::2] for term in selector.split(",") if term]
        items = [obj for (res, ns, _), obj in self.objects.items() if (res, ns) == (resource, namespace) and all(
            obj["metadata"].get("labels", {}).get(key) == value for key, value in wanted)]  # fmt: skip
        kind = ARGO_KIND_BY_RESOURCE.get(resource, "Pod")
        version = str(next(self._versions))
        return {"apiVersion": "v1", "kind": f"{kind}List", "metadata": {"resourceVersion": version}, "items": items}

    def _get_pod(self, namespace: str, name: str) -> dict[str, Any]:
        pod = self._existing("pods", namespace, name)
        if pod["status"]["phase"] == "Pending":
            pod["status"] = dict(self.pod_start_status)
        return pod

    def handle(self, method: str, path: str, query: dict[str, list[str]], body: Any) -> tuple[int, Any]:
        with self._lock:
            self.requests.append(RecordedRequest(method, path, query, copy.deepcopy(body)))
            verb = _VERBS[method]
            if match := _NAMESPACE_PATH.match(path):
                self._injected(verb, "namespaces", match["name"], match["name"])
                if match["name"] not in self.namespaces:
                    raise ApiFailure(404, f'namespaces "{match["name"]}" not found', {"kind": "namespaces"})
                return 200, {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": match["name"]}}
            match = (
                (_ARGO_PATH.match(path) if self.argo_installed else None)
                or _POD_PATH.match(path)
                or _CONFIG_MAP_PATH.match(path)
                or _SETUP_PATH.match(path)
            )
            if match is None:
                raise ApiFailure(404, "the server could not find the requested resource")
            resource, namespace, name = match["resource"], match["ns"], match["name"]
            if verb == "get" and name is None:
                verb = "list"
            self._injected(verb, resource, namespace, name, query.get("dryRun") == ["All"])
            if method == "POST":
                return 201, self._create(resource, namespace, body, query)
            if method == "PUT":
                return 200, self._replace(resource, namespace, name, body, query)
            if method == "DELETE":
                deleted = self._existing(resource, namespace, name)
                del self.objects[(resource, namespace, name)]
                if resource == "pods":
                    self.deleted_pods.append(name)
                return 200, deleted
            if name is None:
                return 200, self._list(resource, namespace, query.get("labelSelector", [""])[0])
            return 200, self._get_pod(namespace, name) if resource == "pods" else self._existing(
                resource, namespace, name)  # fmt: skip

    def exec_command(self, namespace: str, name: str, command: list[str]) -> tuple[list[str], bool]:
        """Check an exec request; return its command with the pod's PVC mount paths mapped to local directories,
        and whether to corrupt its stdin."""
        with self._lock:
            self.requests.append(RecordedRequest("GET", f"/api/v1/namespaces/{namespace}/pods/{name}/exec",
                                                 {"command": command}, None))  # fmt: skip
            self._injected("create", "pods/exec", namespace, name)
            pod = self._get_pod(namespace, name)
            corrupt = self.exec_count in self.corrupt_execs
            self.exec_count += 1
        if pod["status"]["phase"] != "Running":
            raise ApiFailure(400, f"pod {name} is not running")
        claims = {v["name"]: v["persistentVolumeClaim"]["claimName"] for v in pod["spec"].get("volumes", [])}
        mounts = {m["mountPath"]: self.pvc_dir(claims[m["name"]]) for m in pod["spec"]["containers"][0]["volumeMounts"]}
        mapped = []
        for argument in command:
            for mount, local in mounts.items():
                if argument == mount or argument.startswith(mount + "/"):
                    argument = str(local) + argument[len(mount) :]
            mapped.append(argument)
        return mapped, corrupt


class _ExecSession:
    """One exec WebSocket: channel 0 → the process's stdin, its stdout/stderr → channels 1/2, exit status → 3."""

    def __init__(self, handler: BaseHTTPRequestHandler, protocol: str, corrupt: bool) -> None:
        self.handler, self.protocol, self.corrupt = handler, protocol, corrupt
        self.connection = Connection(ConnectionType.SERVER)
        self.lock = threading.Lock()

    def send(self, data: bytes) -> None:
        with self.lock:
            self.handler.connection.sendall(self.connection.send(BytesMessage(data)))

    def run(self, argv: list[str], cwd: Path) -> None:
        process = subprocess.Popen(argv, cwd=cwd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        pumps = [threading.Thread(target=self._pump, args=(stream, channel))
                 for stream, channel in ((process.stdout, 1), (process.stderr, 2))]  # fmt: skip
        reader = threading.Thread(target=self._read_stdin, args=(process,), daemon=True)
        for thread in (*pumps, reader):
            thread.start()
        try:
            code = process.wait(timeout=120)
        except subprocess.TimeoutExpired:
            process.kill()
            code = process.wait()
        for pump in pumps:
            pump.join()
        status: dict[str, Any] = {"metadata": {}, "status": "Success"}
        if code != 0:
            status = {"metadata": {}, "status": "Failure", "reason": "NonZeroExitCode",
                      "message": f"command terminated with non-zero exit code: exit status {code}",
                      "details": {"causes": [{"reason": "ExitCode", "message": str(code)}]}}  # fmt: skip
        self.send(b"\x03" + json.dumps(status).encode())
        with self.lock:
            self.handler.connection.sendall(self.connection.send(CloseConnection(code=1000)))
        reader.join(timeout=10)

    def _pump(self, stream: Any, channel: int) -> None:
        while chunk := stream.read1(65536):
            self.send(bytes([channel]) + chunk)

    def _read_stdin(self, process: subprocess.Popen[bytes]) -> None:
        assert process.stdin is not None
        channel: int | None = None
        try:
            while data := self.handler.rfile.read1(65536):
                with self.lock:
                    self.connection.receive_data(data)
                    events = list(self.connection.events())
                for event in events:
                    if isinstance(event, Ping):
                        with self.lock:
                            self.handler.connection.sendall(self.connection.send(event.response()))
                    elif isinstance(event, CloseConnection):
                        return
                    elif isinstance(event, Message):
                        payload = (
                            bytes(event.data) if isinstance(event.data, bytes | bytearray) else event.data.encode()
                        )
                        if channel is None:
                            channel, payload = payload[0], payload[1:]
                        self._to_process(process, channel, payload)
                        if event.message_finished:
                            channel = None
        except (OSError, ValueError):
            return
        finally:
            process.stdin.close()

    def _to_process(self, process: subprocess.Popen[bytes], channel: int, payload: bytes) -> None:
        assert process.stdin is not None
        if channel == 255 and payload[:1] == b"\x00" and self.protocol.startswith("v5"):
            process.stdin.close()
        elif channel == 0 and payload and not process.stdin.closed:
            if self.corrupt:
                payload, self.corrupt = bytes([payload[0] ^ 0xFF]) + payload[1:], False
            try:
                process.stdin.write(payload)
                process.stdin.flush()
            except BrokenPipeError:
                pass


def _handler(kube: FakeKube) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:
            """Quiet: the tests assert on `FakeKube.requests` instead."""

        def _reply(self, code: int, payload: Any) -> None:
            data = json.dumps(payload).encode()
            self.send_response(code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _dispatch(self) -> None:
            url = urlsplit(self.path)
            query = parse_qs(url.query)
            length = int(self.headers.get("Content-Length") or 0)
            body = json.loads(self.rfile.read(length)) if length else None
            try:
                exec_match = _POD_PATH.match(url.path)
                if self.headers.get("Upgrade", "").lower() == "websocket" and exec_match and exec_match["exec"]:
                    self._exec(exec_match["ns"], exec_match["name"], query.get("command", []))
                    return
                self._reply(*kube.handle(self.command, url.path, query, body))
            except ApiFailure as failure:
                self._reply(failure.code, failure.status)

        def _exec(self, namespace: str, name: str, command: list[str]) -> None:
            argv, corrupt = kube.exec_command(namespace, name, command)
            offered = [p.strip() for p in self.headers.get("Sec-WebSocket-Protocol", "").split(",")]
            if kube.exec_protocol not in offered:
                raise ApiFailure(400, f"no supported exec protocol among {offered}")
            self.send_response(101, "Switching Protocols")
            self.send_header("Upgrade", "websocket")
            self.send_header("Connection", "Upgrade")
            self.send_header(
                "Sec-WebSocket-Accept", generate_accept_token(self.headers["Sec-WebSocket-Key"].encode()).decode()
            )
            self.send_header("Sec-WebSocket-Protocol", kube.exec_protocol)
            self.end_headers()
            self.close_connection = True
            _ExecSession(self, kube.exec_protocol, corrupt).run(argv, kube.root)

        do_GET = do_POST = do_PUT = do_DELETE = _dispatch

    return Handler
