"""The Pod Security Standards' "baseline" and "restricted" profiles as checks on a pod spec.

Written from the Kubernetes documentation of the Pod Security Standards (the controls Pod Security Admission
enforces), so that the tests can tell whether every pod flowkit creates would be admitted in a namespace labelled
``pod-security.kubernetes.io/enforce: restricted``. Each control is one function returning its violations; a pod
passes a profile when no control of that profile (restricted includes baseline) reports one.

`argo_pod_specs` turns an Argo workflow manifest into the pod spec each container template produces (the
workflow's pod-level settings with the template's own on top), which is what admission sees.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import Any

Pod = Mapping[str, Any]

BASELINE_CAPABILITIES = frozenset(
    {"AUDIT_WRITE", "CHOWN", "DAC_OVERRIDE", "FOWNER", "FSETID", "KILL", "MKNOD", "NET_BIND_SERVICE", "SETFCAP",
     "SETGID", "SETPCAP", "SETUID", "SYS_CHROOT"}
)  # fmt: skip
"""Capabilities baseline lets a container add (the container runtimes' default set)."""
SAFE_SYSCTLS = frozenset(
    {"kernel.shm_rmid_forced", "net.ipv4.ip_local_port_range", "net.ipv4.ip_unprivileged_port_start",
     "net.ipv4.tcp_syncookies", "net.ipv4.ping_group_range", "net.ipv4.ip_local_reserved_ports",
     "net.ipv4.tcp_keepalive_time", "net.ipv4.tcp_fin_timeout", "net.ipv4.tcp_keepalive_intvl",
     "net.ipv4.tcp_keepalive_probes"}
)  # fmt: skip
RESTRICTED_VOLUME_TYPES = frozenset(
    {"configMap", "csi", "downwardAPI", "emptyDir", "ephemeral", "persistentVolumeClaim", "projected", "secret"}
)
SELINUX_TYPES = frozenset({"", "container_t", "container_init_t", "container_kvm_t", "container_engine_t"})


def _containers(pod: Pod) -> Iterator[tuple[str, Mapping[str, Any]]]:
    for kind in ("initContainers", "containers", "ephemeralContainers"):
        for container in pod.get(kind) or []:
            yield f"{kind}[{container.get('name', '?')}]", container


def _contexts(pod: Pod) -> Iterator[tuple[str, Mapping[str, Any]]]:
    """The pod's securityContext, then each container's (missing ones as empty)."""
    yield "spec.securityContext", pod.get("securityContext") or {}
    for where, container in _containers(pod):
        yield f"{where}.securityContext", container.get("securityContext") or {}


# -- baseline -------------------------------------------------------------------------------------------------------
def host_namespaces(pod: Pod) -> list[str]:
    return [f"spec.{field} must be unset or false" for field in ("hostNetwork", "hostPID", "hostIPC") if pod.get(field)]


def privileged_containers(pod: Pod) -> list[str]:
    return [f"{where}.privileged must be false" for where, context in _contexts(pod) if context.get("privileged")]


def baseline_capabilities(pod: Pod) -> list[str]:
    return [
        f"{where}.capabilities.add has {added!r}, beyond the default set"
        for where, context in _contexts(pod)
        for added in (context.get("capabilities") or {}).get("add") or []
        if added not in BASELINE_CAPABILITIES
    ]


def host_path_volumes(pod: Pod) -> list[str]:
    return [f"volume {v['name']!r} is a hostPath" for v in pod.get("volumes") or [] if "hostPath" in v]


def host_ports(pod: Pod) -> list[str]:
    return [
        f"{where} uses hostPort {port['hostPort']}"
        for where, container in _containers(pod)
        for port in container.get("ports") or []
        if port.get("hostPort")
    ]


def windows_host_process(pod: Pod) -> list[str]:
    return [
        f"{where}.windowsOptions.hostProcess must be false"
        for where, context in _contexts(pod)
        if (context.get("windowsOptions") or {}).get("hostProcess")
    ]


def app_armor(pod: Pod) -> list[str]:
    return [
        f"{where}.appArmorProfile.type must be RuntimeDefault or Localhost"
        for where, context in _contexts(pod)
        if (context.get("appArmorProfile") or {}).get("type") not in (None, "RuntimeDefault", "Localhost")
    ]


def selinux(pod: Pod) -> list[str]:
    problems = []
    for where, context in _contexts(pod):
        options = context.get("seLinuxOptions") or {}
        if options.get("type", "") not in SELINUX_TYPES:
            problems.append(f"{where}.seLinuxOptions.type {options['type']!r} is not allowed")
        if options.get("user") or options.get("role"):
            problems.append(f"{where}.seLinuxOptions user and role must be unset")
    return problems


def proc_mount(pod: Pod) -> list[str]:
    return [
        f"{where}.procMount must be Default"
        for where, context in _contexts(pod)
        if context.get("procMount") not in (None, "Default")
    ]


def seccomp_not_unconfined(pod: Pod) -> list[str]:
    return [
        f"{where}.seccompProfile.type must not be Unconfined"
        for where, context in _contexts(pod)
        if (context.get("seccompProfile") or {}).get("type") == "Unconfined"
    ]


def sysctls(pod: Pod) -> list[str]:
    return [
        f"sysctl {sysctl['name']!r} is not in the safe set"
        for sysctl in (pod.get("securityContext") or {}).get("sysctls") or []
        if sysctl["name"] not in SAFE_SYSCTLS
    ]


# -- restricted -----------------------------------------------------------------------------------------------------
def volume_types(pod: Pod) -> list[str]:
    problems = []
    for volume in pod.get("volumes") or []:
        kinds = set(volume) - {"name"}
        if not kinds <= RESTRICTED_VOLUME_TYPES:
            problems.append(f"volume {volume['name']!r} has type {sorted(kinds - RESTRICTED_VOLUME_TYPES)}")
    return problems


def privilege_escalation(pod: Pod) -> list[str]:
    return [
        f"{where}: securityContext.allowPrivilegeEscalation must be false"
        for where, container in _containers(pod)
        if (container.get("securityContext") or {}).get("allowPrivilegeEscalation") is not False
    ]


def run_as_non_root(pod: Pod) -> list[str]:
    """runAsNonRoot true on the pod (containers may not say false) or on every container."""
    pod_level = (pod.get("securityContext") or {}).get("runAsNonRoot")
    problems = []
    for where, container in _containers(pod):
        own = (container.get("securityContext") or {}).get("runAsNonRoot")
        if own is False or (own is None and pod_level is not True):
            problems.append(f"{where}: runAsNonRoot must be true (on the pod or the container)")
    return problems


def run_as_user(pod: Pod) -> list[str]:
    return [f"{where}.runAsUser must not be 0" for where, context in _contexts(pod) if context.get("runAsUser") == 0]


def seccomp_profile(pod: Pod) -> list[str]:
    """RuntimeDefault or Localhost on the pod, or on every container; no container may override with another."""
    allowed = ("RuntimeDefault", "Localhost")
    pod_level = ((pod.get("securityContext") or {}).get("seccompProfile") or {}).get("type")
    problems = []
    for where, container in _containers(pod):
        own = ((container.get("securityContext") or {}).get("seccompProfile") or {}).get("type")
        effective = own if own is not None else pod_level
        if effective not in allowed:
            problems.append(f"{where}: seccompProfile.type must be RuntimeDefault or Localhost, is {effective!r}")
    return problems


def restricted_capabilities(pod: Pod) -> list[str]:
    problems = []
    for where, container in _containers(pod):
        capabilities = (container.get("securityContext") or {}).get("capabilities") or {}
        if "ALL" not in (capabilities.get("drop") or []):
            problems.append(f"{where}: capabilities.drop must include ALL")
        problems += [
            f"{where}: capabilities.add may only hold NET_BIND_SERVICE, has {added!r}"
            for added in capabilities.get("add") or []
            if added != "NET_BIND_SERVICE"
        ]
    return problems


BASELINE: tuple[Callable[[Pod], list[str]], ...] = (
    host_namespaces,
    privileged_containers,
    baseline_capabilities,
    host_path_volumes,
    host_ports,
    windows_host_process,
    app_armor,
    selinux,
    proc_mount,
    seccomp_not_unconfined,
    sysctls,
)
RESTRICTED: tuple[Callable[[Pod], list[str]], ...] = (
    *BASELINE,
    volume_types,
    privilege_escalation,
    run_as_non_root,
    run_as_user,
    seccomp_profile,
    restricted_capabilities,
)


def violations(pod: Pod, profile: tuple[Callable[[Pod], list[str]], ...] = RESTRICTED) -> list[str]:
    """Every violation of ``profile`` by the pod spec ``pod``; empty when admission would accept it."""
    return [problem for control in profile for problem in control(pod)]


_POD_LEVEL_FIELDS = (
    "securityContext", "serviceAccountName", "nodeSelector", "tolerations", "imagePullSecrets", "hostNetwork",
)  # fmt: skip


def argo_pod_specs(manifest: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """Template name -> the pod spec Argo creates for each container template of a workflow (template) manifest:
    the workflow's pod-level fields with the template's own replacing them, the workflow's volumes and the
    template's, and the template's container as the pod's main container."""
    spec = manifest["spec"]
    pods = {}
    for template in spec["templates"]:
        if "container" not in template:
            continue
        pod: dict[str, Any] = {field: spec[field] for field in _POD_LEVEL_FIELDS if field in spec}
        pod.update({field: template[field] for field in _POD_LEVEL_FIELDS if field in template})
        pod["volumes"] = [*spec.get("volumes", []), *template.get("volumes", [])]
        pod["containers"] = [{"name": "main", **template["container"]}]
        pods[template["name"]] = pod
    return pods
