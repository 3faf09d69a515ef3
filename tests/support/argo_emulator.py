"""Run an Argo WorkflowTemplate (or Workflow) locally, the way Argo would, to prove that its pods' commands work.

There is no cluster and no container engine here, so each container template's ``command + args`` runs as a local
process (the image is ignored; ``python`` resolves to the interpreter under test), in a private mount namespace
where every PVC mount path shows a local directory, every hostPath a directory of the emulated node, every
emptyDir a fresh tmpfs and every configMap volume the keys of a ConfigMap the caller passed (``config_maps``). The
DAG is scheduled like Argo schedules it (see :mod:`tests.support.argo_engine`), parameters are substituted as exact
text, and the onExit handler runs last with ``{{workflow.status}}``. Anything
the emulator does not implement is refused up front (:class:`UnsupportedManifestFeature`, a NotImplementedError)
rather than ignored. Each pod runs as the user its securityContext names, with its fsGroup applied to the claims
as the kubelet applies it. Fields that only matter to a cluster (image, resources, nodeSelector, tolerations,
podGC, ttlStrategy...) are accepted and have no effect. Needs root (mount namespaces, switching users).

Public API: :func:`run_workflow_template`, :class:`EmulatedRun`, :class:`NodeRecord`,
:class:`UnsupportedManifestFeature`, :class:`UnresolvedVariable`.
"""

from __future__ import annotations

import copy
import os
import random
import shutil
import string
import sys
import time
import uuid
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from tests.support.argo_engine import WorkflowEngine
from tests.support.argo_errors import UnresolvedVariable, UnsupportedManifestFeature
from tests.support.argo_features import check_enum, check_supported
from tests.support.argo_pod import PodEnvironment, make_python_shim
from tests.support.argo_records import FAILED, SUCCEEDED, EmulatedRun, NodeRecord
from tests.support.argo_substitution import as_parameter_text, parameter_scope

__all__ = ["EmulatedRun", "NodeRecord", "UnresolvedVariable", "UnsupportedManifestFeature", "run_workflow_template"]

_RUNNABLE_KINDS = frozenset({"Workflow", "WorkflowTemplate", "ClusterWorkflowTemplate"})
_NAME_SUFFIX_ALPHABET = string.ascii_lowercase + string.digits
_TYPE_KEYS = frozenset(
    {"container", "script", "dag", "steps", "resource", "suspend", "containerSet", "data", "http", "plugin"}
)
_LIST_MERGE_KEYS = {"env": "name", "volumeMounts": "mountPath", "volumes": "name"}


def run_workflow_template(
    manifest: Mapping[str, Any],
    *,
    arguments: Mapping[str, str] | None = None,
    pvc_dirs: Mapping[str, Path],
    workdir: Path,
    max_parallel: int = 2,
    python: str = sys.executable,
    python_flags: Sequence[str] = (),
    env: Mapping[str, str] | None = None,
    timeout: float = 600.0,
    node_dir: Path | None = None,
    pod_users: bool = True,
    config_maps: Sequence[Mapping[str, Any]] = (),
) -> EmulatedRun:
    """Execute ``manifest``'s entrypoint and its onExit handler locally and return what happened.

    - ``arguments``: workflow parameter overrides (name → value text), as ``argo submit -p`` gives them; a name the
      manifest does not declare is an error.
    - ``pvc_dirs``: claim name → local directory shown at that claim's mount paths.
    - ``workdir``: a directory of the caller's; holds the emulator's scratch files and is the working directory of
      containers that set no ``workingDir``.
    - ``max_parallel``: containers running at once, across the whole workflow.
    - ``python``: the interpreter that ``python``/``python3`` in a command resolve to, started with
      ``python_flags`` (``("-I", "-S")``: no site-packages, no environment variables read, as a bare image's).
    - ``env``: variables added to this process's environment to form every container's base environment (the
      container's own ``env`` comes on top).
    - ``node_dir``: the directory standing for the one node every pod runs on; a hostPath volume shows its
      subdirectory of the same path (default: ``<workdir>/node``).
    - ``pod_users``: run each pod as the user its securityContext names (runAsUser, runAsGroup), with fsGroup as a
      supplementary group and applied to its claims as the kubelet applies it, as a cluster does (flowkit's pods:
      uid 1000 on a claim whose root belongs to root). False runs them as this process's user (root), for a
      manifest whose users do not matter to what a test checks.
    - ``config_maps``: ConfigMap manifests deployed with the workflow (e.g. the documents of
      ``argo-create --only-yaml`` before the template); a configMap volume shows one of these, and a pod mounting
      any other fails. Each must be in the workflow's namespace.
    - ``timeout``: wall-clock limit for the run (or the manifest's ``activeDeadlineSeconds``, if shorter); running
      containers are killed and the run fails when it passes (the onExit handler does not run then).

    Raises UnsupportedManifestFeature before running anything if the manifest uses an Argo feature that is not
    emulated, UnresolvedVariable for a ``{{...}}`` tag Argo would not resolve, and ValueError for a bad manifest.
    """
    if manifest.get("kind") not in _RUNNABLE_KINDS:
        raise ValueError(f"cannot run kind {manifest.get('kind')!r}: expected one of {sorted(_RUNNABLE_KINDS)}")
    if os.geteuid() != 0:
        raise PermissionError("the Argo emulator needs root: each pod runs in its own mount namespace")
    spec = manifest["spec"]
    templates = _templates_with_defaults(spec)
    check_supported({**spec, "templates": list(templates.values())})
    workflow_name = _workflow_name(manifest)
    parameters = _workflow_parameters(spec, arguments or {})
    namespace = manifest.get("metadata", {}).get("namespace") or "default"
    globals_ = {
        "workflow.name": workflow_name,
        "workflow.namespace": namespace,
        "workflow.uid": str(uuid.uuid4()),
        **parameter_scope("workflow.parameters", parameters),
    }
    workdir = Path(workdir).resolve()
    scratch = workdir / f".argo-emulator-{workflow_name}"
    scratch.mkdir(parents=True)
    interpreter = _interpreter_path(python)
    shim_dir = make_python_shim(scratch, str(interpreter), python_flags)
    pod = PodEnvironment(
        scratch=scratch,
        pvc_dirs=dict(pvc_dirs),
        volumes={volume["name"]: volume for volume in spec.get("volumes", [])},
        base_env={**os.environ, **(env or {})},
        shim_dir=shim_dir,
        default_cwd=str(workdir),
        namespace=namespace,
        host_paths=(str(workdir), str(interpreter.parents[1]), str(interpreter.resolve().parents[1])),
        node_dir=Path(node_dir) if node_dir is not None else workdir / "node",
        security_context=spec.get("securityContext", {}),
        pod_users=pod_users,
        config_maps=_config_maps(config_maps, namespace),
    )
    time_limit = min(timeout, float(spec.get("activeDeadlineSeconds", timeout)))
    engine = WorkflowEngine(templates, pod, max_parallel=max_parallel, deadline_at=time.monotonic() + time_limit)
    main = engine.run_template(spec["entrypoint"], {}, workflow_name, globals_)
    phases = [main.phase]
    if "onExit" in spec and not engine.errors:
        status = SUCCEEDED if main.phase == SUCCEEDED and not engine.timed_out else FAILED
        exit_globals = {**globals_, "workflow.status": status}
        phases.append(engine.run_template(spec["onExit"], {}, f"{workflow_name}.onExit", exit_globals).phase)
    if engine.errors:
        raise engine.errors[0]
    phase = SUCCEEDED if all(phase == SUCCEEDED for phase in phases) and not engine.timed_out else FAILED
    return EmulatedRun(workflow_name, phase, parameters, engine.nodes, _failure_message(engine, phase))


def _config_maps(manifests: Sequence[Mapping[str, Any]], namespace: str) -> dict[str, dict[str, str]]:
    """name → data of the given ConfigMaps, refusing any that is not a ConfigMap of the workflow's namespace."""
    found: dict[str, dict[str, str]] = {}
    for manifest in manifests:
        metadata = manifest.get("metadata", {})
        if manifest.get("kind") != "ConfigMap":
            raise ValueError(f"config_maps holds a {manifest.get('kind')!r}, not a ConfigMap")
        if (metadata.get("namespace") or "default") != namespace:
            raise ValueError(f"ConfigMap {metadata.get('name')!r} is not in the workflow's namespace {namespace!r}")
        found[metadata["name"]] = dict(manifest.get("data", {}))
    return found


def _interpreter_path(python: str) -> Path:
    """``python`` as an absolute path (looked up on PATH if it is a bare name): the shim must not exec itself."""
    found = shutil.which(python)
    if found is None:
        raise FileNotFoundError(f"python interpreter {python!r} not found")
    return Path(found).absolute()


def _templates_with_defaults(spec: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """Templates by name, each merged over ``templateDefaults`` (the template's own fields win).

    As in Argo, a default for one template type (``container``, ``dag``...) only reaches templates of that type.
    """
    defaults = spec.get("templateDefaults", {})
    templates: dict[str, dict[str, Any]] = {}
    for template in spec.get("templates", []):
        if template["name"] in templates:
            raise ValueError(f"template {template['name']!r} is defined twice")
        applicable = {key: value for key, value in defaults.items() if key not in _TYPE_KEYS or key in template}
        templates[template["name"]] = _strategic_merge(applicable, template)
    return templates


def _strategic_merge(base: Mapping[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    """Kubernetes' strategic merge, for the fields a template default can carry: mappings merge recursively,
    lists with a merge key (env by name, volumeMounts by mountPath, volumes by name) merge item by item, and
    other lists and scalars of ``override`` replace those of ``base``."""
    merged = copy.deepcopy(dict(base))
    for key, value in override.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
            merged[key] = _strategic_merge(merged[key], value)
        elif key in _LIST_MERGE_KEYS and isinstance(value, list) and isinstance(merged.get(key), list):
            merge_key = _LIST_MERGE_KEYS[key]
            overridden = {item[merge_key] for item in value}
            merged[key] = [item for item in merged[key] if item[merge_key] not in overridden] + copy.deepcopy(value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


def _workflow_name(manifest: Mapping[str, Any]) -> str:
    """A Workflow's own name, else ``<generateName or template name>-xxxxx`` as Argo names submitted workflows."""
    metadata = manifest.get("metadata", {})
    if manifest["kind"] == "Workflow" and metadata.get("name"):
        return str(metadata["name"])
    prefix = metadata.get("generateName") or f"{metadata['name']}-"
    return prefix + "".join(random.choices(_NAME_SUFFIX_ALPHABET, k=5))


def _workflow_parameters(spec: Mapping[str, Any], overrides: Mapping[str, str]) -> dict[str, str]:
    """``spec.arguments.parameters`` values with ``overrides`` applied; every parameter must end up with a value."""
    declared = {parameter["name"]: parameter for parameter in spec.get("arguments", {}).get("parameters", [])}
    unknown = sorted(set(overrides) - set(declared))
    if unknown:
        raise ValueError(f"arguments {unknown} are not workflow parameters (declared: {sorted(declared)})")
    values = {}
    for name, parameter in declared.items():
        if name in overrides:
            values[name] = overrides[name]
        elif "value" in parameter:
            values[name] = as_parameter_text(parameter["value"])
        else:
            raise ValueError(f"workflow parameter {name!r} has no value and none was given")
        check_enum(parameter, values[name], "spec.arguments")
    return values


def _failure_message(engine: WorkflowEngine, phase: str) -> str:
    if phase == SUCCEEDED:
        return ""
    if engine.timed_out:
        return "workflow deadline exceeded"
    failed = [node for node in engine.nodes if node.kind == "container" and node.phase == FAILED]
    return f"{failed[0].name}: {failed[0].message}" if failed else "a task failed"
