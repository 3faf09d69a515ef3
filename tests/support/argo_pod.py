"""Run one Argo container template as a local process, the way its pod would run it (one attempt).

The image is ignored: ``python`` on the command's PATH is a shim for the interpreter under test. Volumes are mounted
at their mount paths in a private mount namespace (:mod:`tests.support.argo_pod_launcher`): a PVC claim maps to its
local directory, a hostPath to a directory of the emulated node, an emptyDir (and ``/tmp``) to a fresh tmpfs, a
configMap to a read-only directory holding one file per key (with the volume's defaultMode), as the kubelet
projects it.
Output parameters are read from their ``valueFrom.path`` inside the pod after the command exits, with Argo's rules
(one trailing newline dropped; ``valueFrom.default`` when missing).
"""

from __future__ import annotations

import json
import os
import shlex
import signal
import subprocess
import sys
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from tests.support.argo_errors import UnsupportedManifestFeature

_LAUNCHER = Path(__file__).with_name("argo_pod_launcher.py")
PRIVATE_TMP = "/tmp"


@dataclass(frozen=True)
class PodEnvironment:
    """What every pod of one emulated workflow shares: scratch space, volumes, base environment, python shim."""

    scratch: Path
    pvc_dirs: Mapping[str, Path]
    volumes: Mapping[str, Mapping[str, Any]]
    base_env: Mapping[str, str]
    shim_dir: Path
    default_cwd: str
    namespace: str
    host_paths: tuple[str, ...] = ()
    """Host paths pods must still see under their private /tmp (the shim, the working directory, the interpreter)."""
    node_dir: Path | None = None
    """The root of the one node every pod runs on: a hostPath volume's path is this directory's subdirectory."""
    security_context: Mapping[str, Any] = field(default_factory=dict)
    """The workflow's pod-level securityContext (a template's own replaces it)."""
    pod_users: bool = False
    """Run each pod as its securityContext's runAsUser / runAsGroup, with fsGroup as a supplementary group and
    applied to its claims as the kubelet applies it (`apply_fs_group`); otherwise as this process's user."""
    config_maps: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    """The ConfigMaps of the workflow's namespace: name → data (key → text)."""


@dataclass
class PodResult:
    """The outcome of one attempt: exit code (128 + signal when killed), captured streams and output values."""

    argv: list[str]
    exit_code: int
    stdout: str
    stderr: str
    outputs: dict[str, str] = field(default_factory=dict)
    deadline_exceeded: bool = False
    error: str = ""


def make_python_shim(scratch: Path, python: str, flags: Sequence[str] = ()) -> Path:
    """A directory holding ``python`` and ``python3`` scripts that exec ``python`` (with ``flags`` first, e.g.
    ``-I -S`` for an interpreter that sees no site-packages, like a bare image's); put it first on PATH."""
    shim_dir = scratch / "python-shim"
    shim_dir.mkdir(parents=True, exist_ok=True)
    command = shlex.join([python, *flags])
    for name in ("python", "python3"):
        shim = shim_dir / name
        shim.write_text(f'#!/bin/sh\nexec {command} "$@"\n', encoding="utf-8")
        shim.chmod(0o755)
    return shim_dir


def run_pod(
    pod: PodEnvironment, template: Mapping[str, Any], *, pod_name: str, deadline: float | None, where: str
) -> PodResult:
    """Run ``template`` (a container template whose variables are already substituted) once and collect outputs.

    The template must have passed :func:`tests.support.argo_features.check_supported`.

    ``deadline`` is the template's activeDeadlineSeconds (None: no limit); a pod still running then is killed
    (SIGKILL to its process group) and reported with ``deadline_exceeded``.
    """
    container = template["container"]
    argv = [*container["command"], *container.get("args", [])]
    output_specs = _output_parameter_specs(template, where)
    attempt_dir = Path(tempfile.mkdtemp(prefix=f"{pod_name}-", dir=pod.scratch))
    results_dir = attempt_dir / "outputs"
    root_dir = attempt_dir / "root"
    results_dir.mkdir()
    root_dir.mkdir()
    context = template.get("securityContext") or pod.security_context if pod.pod_users else {}
    binds, tmpfs = _mounts(pod, template, container.get("volumeMounts", []), where, context.get("fsGroup"))
    spec = {
        "root": str(root_dir),
        "results_dir": str(results_dir),
        "binds": binds,
        "tmpfs": tmpfs,
        "outputs": [path for _, path, _ in output_specs],
        "cwd": container.get("workingDir") or pod.default_cwd,
        "argv": argv,
        "env": _environment(pod, container.get("env", []), pod_name, where),
        "user": _process_identity(context),
        "traversable": list(pod.host_paths),
    }
    spec_path = attempt_dir / "spec.json"
    spec_path.write_text(json.dumps(spec), encoding="utf-8")
    result = _run_launcher(spec_path, argv, deadline)
    if result.exit_code == 0:
        _collect_outputs(result, output_specs, results_dir, where)
    return result


def _run_launcher(spec_path: Path, argv: list[str], deadline: float | None) -> PodResult:
    """Start the launcher in its own process group and wait, killing the group at the deadline."""
    process = subprocess.Popen(
        [sys.executable, str(_LAUNCHER), str(spec_path)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        start_new_session=True,
    )
    deadline_exceeded = False
    try:
        stdout, stderr = process.communicate(timeout=deadline)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        stdout, stderr = process.communicate()
        deadline_exceeded = True
    exit_code = process.returncode if process.returncode >= 0 else 128 - process.returncode
    return PodResult(
        argv=argv,
        exit_code=exit_code,
        stdout=stdout.decode("utf-8", errors="replace"),
        stderr=stderr.decode("utf-8", errors="replace"),
        deadline_exceeded=deadline_exceeded,
        error=f"Pod was active longer than the deadline of {deadline}s" if deadline_exceeded else "",
    )


def _output_parameter_specs(template: Mapping[str, Any], where: str) -> list[tuple[str, str, str | None]]:
    """(name, path, default) for each output parameter; only ``valueFrom.path`` is meaningful in a container."""
    specs = []
    for parameter in template.get("outputs", {}).get("parameters", []):
        value_from = parameter.get("valueFrom", {})
        if "path" not in value_from:
            raise UnsupportedManifestFeature(f"{where}: output parameter {parameter['name']!r} has no valueFrom.path")
        specs.append((parameter["name"], value_from["path"], value_from.get("default")))
    return specs


def _collect_outputs(
    result: PodResult, output_specs: list[tuple[str, str, str | None]], results_dir: Path, where: str
) -> None:
    """Fill ``result.outputs``; a missing file without a default fails the attempt, as Argo's executor does."""
    for index, (name, path, default) in enumerate(output_specs):
        result_file = results_dir / str(index)
        if result_file.exists():
            value = result_file.read_bytes().decode("utf-8")
        elif default is not None:
            value = default
        else:
            result.exit_code = 1
            result.error = f"{where}: output parameter {name!r}: {path} was not written"
            return
        result.outputs[name] = value.removesuffix("\n")


def _process_identity(context: Mapping[str, Any]) -> dict[str, Any] | None:
    """uid, gid and supplementary groups of the pod's processes, as a container runtime sets them (None: no
    runAsUser, the image's user, which is this process's here). The primary group is runAsGroup, else 0 (an image
    user given only by number has no passwd entry); fsGroup and supplementalGroups are supplementary groups."""
    if context.get("runAsUser") is None:
        return None
    groups = [context["fsGroup"]] if context.get("fsGroup") is not None else []
    groups += context.get("supplementalGroups", [])
    return {"uid": context["runAsUser"], "gid": context.get("runAsGroup", 0), "groups": groups}


def apply_fs_group(volume_root: Path, fs_group: int) -> None:
    """What the kubelet does to a volume that supports ownership management before a pod with ``fsGroup`` starts:
    everything below gets that group, group read-write (and group search on directories), directories setgid, so
    that what the pod creates keeps the group. With ``fsGroupChangePolicy: OnRootMismatch`` it skips a volume whose
    root already has the group and those bits, which is also the only case where redoing it would change nothing.
    """
    root = volume_root.stat()
    if root.st_gid == fs_group and root.st_mode & 0o2070 == 0o2070:
        return
    for path in [volume_root, *volume_root.rglob("*")]:
        if path.is_symlink():
            continue
        os.chown(path, -1, fs_group)
        mode = path.stat().st_mode
        extra = 0o2070 if path.is_dir() else 0o060
        os.chmod(path, (mode | extra) & 0o7777)


def _mounts(
    pod: PodEnvironment,
    template: Mapping[str, Any],
    volume_mounts: list[dict[str, Any]],
    where: str,
    fs_group: int | None = None,
) -> tuple[list[dict[str, Any]], list[str]]:
    """Resolve volumeMounts to (bind mounts of local directories, tmpfs mount paths); with ``fs_group``, claims get
    it first (`apply_fs_group`).

    Unless a volume is mounted there, ``/tmp`` is a fresh tmpfs, as a container's own /tmp is private: pods do not
    share files through it and leave nothing in the host's. The emulator's own host paths stay visible through it,
    and through an emptyDir mounted at ``/tmp``.
    """
    volumes = {**pod.volumes, **{volume["name"]: volume for volume in template.get("volumes", [])}}
    binds: list[dict[str, Any]] = []
    tmpfs: list[str] = []
    for mount in volume_mounts:
        target = mount["mountPath"]
        if not PurePosixPath(target).is_absolute():
            raise ValueError(f"{where}: mountPath {target!r} must be absolute")
        volume = volumes.get(mount["name"])
        if volume is None:
            raise ValueError(f"{where}: volumeMount {mount['name']!r} names no volume (known: {sorted(volumes)})")
        if "emptyDir" in volume:
            if mount.get("subPath"):
                raise UnsupportedManifestFeature(f"{where}: subPath on emptyDir volume {mount['name']!r}")
            tmpfs.append(target)
            continue
        if "hostPath" in volume:
            binds.append(_host_path_bind(pod, volume["hostPath"], mount, where))
            continue
        if "configMap" in volume:
            if mount.get("subPath"):
                raise UnsupportedManifestFeature(f"{where}: subPath on configMap volume {mount['name']!r}")
            source = _config_map_dir(pod, volume["configMap"], where)
            binds.append({"source": str(source), "target": target, "read_only": True})
            continue
        claim = volume["persistentVolumeClaim"]["claimName"]
        if claim not in pod.pvc_dirs:
            raise ValueError(
                f"{where}: PVC claim {claim!r} has no local directory (pvc_dirs has {sorted(pod.pvc_dirs)})"
            )
        source = Path(pod.pvc_dirs[claim])
        if mount.get("subPath"):
            source = source / mount["subPath"]
            source.mkdir(parents=True, exist_ok=True)
        if fs_group is not None:
            apply_fs_group(source, fs_group)
        binds.append({"source": str(source), "target": target, "read_only": bool(mount.get("readOnly"))})
    if PRIVATE_TMP not in tmpfs and all(bind["target"] != PRIVATE_TMP for bind in binds):
        tmpfs.insert(0, PRIVATE_TMP)
    if PRIVATE_TMP in tmpfs:  # the default private /tmp, or an emptyDir mounted there
        under_tmp = [path for path in pod.host_paths if PurePosixPath(PRIVATE_TMP) in PurePosixPath(path).parents]
        binds.extend({"source": path, "target": path, "read_only": False} for path in under_tmp)
    return binds, tmpfs


def _config_map_dir(pod: PodEnvironment, volume: Mapping[str, Any], where: str) -> Path:
    """A directory holding the ConfigMap's keys as files with the volume's defaultMode (Kubernetes' default 0644),
    written once per workflow; a ConfigMap the namespace lacks fails the pod, as the kubelet never starts it, unless
    the volume is ``optional``: then the kubelet mounts an empty directory."""
    name = volume["name"]
    files = pod.config_maps.get(name)
    if files is None and not volume.get("optional"):
        raise ValueError(f"{where}: configMap {name!r} does not exist (given: {sorted(pod.config_maps)})")
    mode = int(volume.get("defaultMode", 0o644))
    directory = pod.scratch / "config-maps" / f"{name}-{mode:o}"
    if not directory.is_dir():
        directory.mkdir(parents=True)
        for key, text in (files or {}).items():
            (directory / key).write_text(text, encoding="utf-8")
            (directory / key).chmod(mode)
        directory.chmod(0o755)
    return directory


def _host_path_bind(
    pod: PodEnvironment, host_path: Mapping[str, Any], mount: Mapping[str, Any], where: str
) -> dict[str, Any]:
    """A hostPath volume as a bind of the emulated node's directory; DirectoryOrCreate creates it, as the kubelet
    does, and Directory requires it to exist."""
    if pod.node_dir is None:
        raise UnsupportedManifestFeature(f"{where}: hostPath volume {mount['name']!r} needs an emulated node_dir")
    if mount.get("subPath"):
        raise UnsupportedManifestFeature(f"{where}: subPath on hostPath volume {mount['name']!r}")
    source = pod.node_dir / PurePosixPath(host_path["path"]).relative_to("/")
    if host_path.get("type") == "DirectoryOrCreate":
        source.mkdir(parents=True, exist_ok=True)
    elif not source.is_dir():
        raise ValueError(f"{where}: hostPath {host_path['path']!r} does not exist on the node ({source})")
    return {"source": str(source), "target": mount["mountPath"], "read_only": bool(mount.get("readOnly"))}


def _environment(pod: PodEnvironment, env_vars: list[dict[str, Any]], pod_name: str, where: str) -> dict[str, str]:
    """Base environment + the container's ``env`` (values, or the pod's name/namespace), python shim first on PATH."""
    field_values = {"metadata.name": pod_name, "metadata.namespace": pod.namespace}
    env = dict(pod.base_env)
    for variable in env_vars:
        if "value" in variable or "valueFrom" not in variable:
            env[variable["name"]] = str(variable.get("value", ""))
            continue
        env[variable["name"]] = field_values[variable["valueFrom"]["fieldRef"]["fieldPath"]]
    env["PATH"] = f"{pod.shim_dir}{os.pathsep}{env.get('PATH', os.defpath)}"
    return env
