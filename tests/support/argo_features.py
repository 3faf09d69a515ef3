"""The subset of Argo the emulator implements, checked before anything runs.

Every field a manifest uses must be either executed by the emulator or listed here as meaningful only on a cluster
(scheduling, images, security, garbage collection). Anything else — script/resource/steps templates,
artifacts, ``continueOn``, expression tags — raises :class:`UnsupportedManifestFeature` naming every offending
field, so an emulated run never passes a workflow whose behaviour it did not understand.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import Any

from tests.support.argo_errors import UnsupportedManifestFeature

Fields = frozenset[str]

_SPEC_EXECUTED: Fields = frozenset(
    {"entrypoint", "arguments", "templates", "onExit", "templateDefaults", "volumes", "activeDeadlineSeconds"}
)
_SPEC_CLUSTER_ONLY: Fields = frozenset(
    {"serviceAccountName", "ttlStrategy", "podGC", "archiveLogs", "parallelism", "securityContext", "nodeSelector",
     "tolerations", "affinity", "podMetadata", "workflowMetadata", "imagePullSecrets", "priority",
     "podPriorityClassName", "schedulerName", "automountServiceAccountToken", "podDisruptionBudget",
     "artifactRepositoryRef", "hostNetwork", "dnsPolicy", "dnsConfig", "executor"}
)  # fmt: skip
_TEMPLATE_EXECUTED: Fields = frozenset(
    {"name", "inputs", "outputs", "container", "dag", "retryStrategy", "activeDeadlineSeconds", "volumes"}
)
_TEMPLATE_CLUSTER_ONLY: Fields = frozenset(
    {"metadata", "nodeSelector", "tolerations", "affinity", "serviceAccountName", "securityContext",
     "priorityClassName", "schedulerName", "automountServiceAccountToken", "archiveLocation", "parallelism",
     "hostAliases"}
)  # fmt: skip
_CONTAINER_EXECUTED: Fields = frozenset({"command", "args", "env", "workingDir", "volumeMounts"})
_CONTAINER_CLUSTER_ONLY: Fields = frozenset(
    {"name", "image", "imagePullPolicy", "resources", "securityContext", "terminationMessagePath",
     "terminationMessagePolicy"}
)  # fmt: skip
_DAG_TASK_FIELDS: Fields = frozenset(
    {"name", "template", "arguments", "dependencies", "depends", "withParam", "withItems", "when"}
)
_RETRY_FIELDS: Fields = frozenset({"limit", "retryPolicy", "backoff", "affinity", "expression"})
_RETRY_POLICIES = frozenset({"Always", "OnFailure", "OnError", "OnTransientError"})
_HOST_PATH_TYPES = frozenset({"", "Directory", "DirectoryOrCreate"})
"""hostPath types the emulator implements: directories on the one emulated node."""
_DEPENDS_TERM = re.compile(r"^\s*([A-Za-z0-9_-]+)(\.Succeeded)?\s*$")
_RETRY_EXPRESSION_TERM = re.compile(r'^\s*lastRetry\.exitCode\s*!=\s*"(-?[0-9]+)"\s*$')


def check_supported(spec: Mapping[str, Any]) -> None:
    """Raise UnsupportedManifestFeature listing every field of a workflow ``spec`` the emulator cannot honour."""
    problems = list(_spec_problems(spec))
    if problems:
        listing = "\n".join(f"  - {problem}" for problem in problems)
        raise UnsupportedManifestFeature(f"the Argo emulator does not implement:\n{listing}")


def parse_depends(expression: str, *, where: str) -> list[str]:
    """Task names of a ``depends`` expression of the simple form ``a && b.Succeeded``.

    Other results (``.Failed``, ``.Skipped``...), ``||``, ``!`` and parentheses change when a task runs in ways this
    emulation does not reproduce, so they are refused.
    """
    names = []
    for term in expression.split("&&"):
        match = _DEPENDS_TERM.match(term)
        if match is None:
            raise UnsupportedManifestFeature(f"{where}: depends {expression!r}: only 'a && b.Succeeded' is supported")
        names.append(match.group(1))
    return names


def excluded_exit_codes(expression: str, *, where: str) -> set[int]:
    """The exit codes a retryStrategy ``expression`` of the form ``lastRetry.exitCode != "77" && ...`` refuses
    to retry; any other expression is refused, since its meaning is not emulated."""
    codes = set()
    for term in expression.split("&&"):
        match = _RETRY_EXPRESSION_TERM.match(term)
        if match is None:
            raise UnsupportedManifestFeature(
                f"{where}: retryStrategy.expression {expression!r}: only 'lastRetry.exitCode != \"N\" && ...' is "
                "supported"
            )
        codes.add(int(match.group(1)))
    return codes


def check_enum(parameter: Mapping[str, Any], value: str, where: str) -> None:
    """Raise ValueError if a parameter declares an ``enum`` that ``value`` is not in, as Argo refuses it."""
    allowed = parameter.get("enum")
    if allowed is not None and value not in [str(choice) for choice in allowed]:
        raise ValueError(f"{where}: parameter {parameter['name']!r} value {value!r} is not one of {allowed}")


def _spec_problems(spec: Mapping[str, Any]) -> Iterator[str]:
    """Every unsupported field of the workflow spec and of its templates, with its location."""
    yield from _unknown(spec, _SPEC_EXECUTED | _SPEC_CLUSTER_ONLY, "spec")
    for name, parameter in enumerate(spec.get("arguments", {}).get("parameters", [])):
        yield from _unknown(parameter, frozenset({"name", "value", "description", "enum"}), f"arguments[{name}]")
    yield from _unknown(spec.get("arguments", {}), frozenset({"parameters"}), "spec.arguments")
    yield from _volume_problems(spec.get("volumes", []), "spec.volumes")
    for template in spec.get("templates", []):
        yield from _template_problems(template, f"template {template.get('name')!r}")


def _template_problems(template: Mapping[str, Any], where: str) -> Iterator[str]:
    yield from _unknown(template, _TEMPLATE_EXECUTED | _TEMPLATE_CLUSTER_ONLY, where)
    yield from _unknown(template.get("inputs", {}), frozenset({"parameters"}), f"{where}.inputs")
    for parameter in template.get("inputs", {}).get("parameters", []):
        known = frozenset({"name", "value", "default", "description", "enum"})
        yield from _unknown(parameter, known, f"{where}.inputs.parameters[{parameter.get('name')!r}]")
    yield from _unknown(template.get("outputs", {}), frozenset({"parameters"}), f"{where}.outputs")
    value_from_keys = frozenset({"parameter"}) if "dag" in template else frozenset({"path", "default"})
    for parameter in template.get("outputs", {}).get("parameters", []):
        location = f"{where}.outputs.parameters[{parameter.get('name')!r}]"
        yield from _unknown(parameter, frozenset({"name", "valueFrom", "description"}), location)
        yield from _unknown(parameter.get("valueFrom", {}), value_from_keys, f"{location}.valueFrom")
    yield from _volume_problems(template.get("volumes", []), f"{where}.volumes")
    retry = template.get("retryStrategy", {})
    yield from _unknown(retry, _RETRY_FIELDS, f"{where}.retryStrategy")
    if retry.get("retryPolicy", "OnFailure") not in _RETRY_POLICIES:
        yield f"{where}.retryStrategy.retryPolicy {retry['retryPolicy']!r}"
    if "expression" in retry:
        try:
            excluded_exit_codes(retry["expression"], where=where)
        except UnsupportedManifestFeature as error:
            yield str(error)
    if "container" in template:
        yield from _container_problems(template["container"], f"{where}.container")
    elif "dag" in template:
        if "retryStrategy" in template:
            yield f"{where}: retryStrategy on a DAG template"
        yield from _dag_problems(template["dag"], f"{where}.dag")
    else:
        yield f"{where}: only container and dag templates are implemented (fields: {sorted(template)})"


def _container_problems(container: Mapping[str, Any], where: str) -> Iterator[str]:
    yield from _unknown(container, _CONTAINER_EXECUTED | _CONTAINER_CLUSTER_ONLY, where)
    if not container.get("command"):
        yield f"{where}: no command (the image's entrypoint is unknown here)"
    for variable in container.get("env", []):
        field_path = variable.get("valueFrom", {}).get("fieldRef", {}).get("fieldPath")
        if "valueFrom" in variable and field_path not in ("metadata.name", "metadata.namespace"):
            yield f"{where}.env[{variable.get('name')!r}].valueFrom {variable['valueFrom']}"
    for mount in container.get("volumeMounts", []):
        known = frozenset({"name", "mountPath", "readOnly", "subPath"})
        yield from _unknown(mount, known, f"{where}.volumeMounts[{mount.get('name')!r}]")


def _dag_problems(dag: Mapping[str, Any], where: str) -> Iterator[str]:
    yield from _unknown(dag, frozenset({"tasks", "failFast"}), where)
    for task in dag.get("tasks", []):
        location = f"{where}.tasks[{task.get('name')!r}]"
        yield from _unknown(task, _DAG_TASK_FIELDS, location)
        yield from _unknown(task.get("arguments", {}), frozenset({"parameters"}), f"{location}.arguments")
        for parameter in task.get("arguments", {}).get("parameters", []):
            yield from _unknown(parameter, frozenset({"name", "value"}), f"{location}.arguments[{parameter['name']!r}]")
        if "depends" in task:
            try:
                parse_depends(task["depends"], where=location)
            except UnsupportedManifestFeature as error:
                yield str(error)


def _volume_problems(volumes: list[Mapping[str, Any]], where: str) -> Iterator[str]:
    for volume in volumes:
        location = f"{where}[{volume.get('name')!r}]"
        known = frozenset({"name", "persistentVolumeClaim", "emptyDir", "hostPath", "configMap"})
        yield from _unknown(volume, known, location)
        config_map_fields = frozenset({"name", "defaultMode", "optional"})
        yield from _unknown(volume.get("configMap", {}), config_map_fields, f"{location}.configMap")
        yield from _unknown(volume.get("emptyDir", {}), frozenset({"medium", "sizeLimit"}), f"{location}.emptyDir")
        yield from _unknown(volume.get("hostPath", {}), frozenset({"path", "type"}), f"{location}.hostPath")
        if volume.get("hostPath", {}).get("type", "") not in _HOST_PATH_TYPES:
            yield f"{location}.hostPath.type {volume['hostPath']['type']!r}"


def _unknown(mapping: Mapping[str, Any], known: Fields, where: str) -> Iterator[str]:
    for key in sorted(set(mapping) - known):
        yield f"{where}.{key}"
