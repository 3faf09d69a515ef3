"""Every pod flowkit creates is admitted under Pod Security "restricted": each task template of every example and
test flow, the exit handler, and the package upload pod. The checker itself is tested on pods it must refuse."""

from __future__ import annotations

from typing import Any

import pytest

import flowkit
from flowkit.cli.main import load_flow_class
from flowkit.deploy.api import upload_pod_spec
from flowkit.deploy.pod_exec import _pod_manifest
from tests.argo.conftest import EXAMPLE_FILES, EXAMPLES, compile_manifests
from tests.argo.flows import SHAPES, LinearFlow, OperatedFlow
from tests.support.pod_security import BASELINE, argo_pod_specs, violations

FLOWS = [*SHAPES, *(load_flow_class(str(path)) for path in EXAMPLE_FILES)]


def _flow_id(flow_cls: type) -> str:
    return flow_cls.__name__


@pytest.mark.parametrize("flow_cls", FLOWS, ids=_flow_id)
def test_every_task_pod_passes_the_restricted_profile(flow_cls: type) -> None:
    pods = argo_pod_specs(compile_manifests(flow_cls)[0])
    assert pods
    assert {name: violations(pod) for name, pod in pods.items() if violations(pod)} == {}


def test_the_exit_handler_pod_is_restricted_too() -> None:
    manifest = compile_manifests(OperatedFlow)[0]
    pods = argo_pod_specs(manifest)
    exit_templates = [name for name in pods if name.startswith("exit-")]
    assert exit_templates
    assert [violations(pods[name]) for name in exit_templates] == [[]]


@pytest.mark.parametrize("flow_cls", [LinearFlow, OperatedFlow], ids=_flow_id)
def test_the_upload_pod_passes_the_restricted_profile(flow_cls: type) -> None:
    pod = _pod_manifest(upload_pod_spec(flow_cls), 300.0)["spec"]
    assert violations(pod) == []
    assert pod["securityContext"]["fsGroup"] == 1000  # it writes files the task pods must read


def test_a_node_package_cache_needs_the_baseline_profile() -> None:
    class NodeCacheFlow(LinearFlow):
        pass

    flowkit.argo(package_cache="node")(NodeCacheFlow)
    for pod in argo_pod_specs(compile_manifests(NodeCacheFlow)[0]).values():
        # Refused by baseline's hostPath control, and again by restricted's list of volume types.
        assert violations(pod) == [
            "volume 'flowkit-package-cache' is a hostPath",
            "volume 'flowkit-package-cache' has type ['hostPath']",
        ]
        assert violations(pod, BASELINE) == ["volume 'flowkit-package-cache' is a hostPath"]


def _bare_pod(**changes: Any) -> dict[str, Any]:
    pod: dict[str, Any] = {
        "securityContext": {"runAsNonRoot": True, "seccompProfile": {"type": "RuntimeDefault"}},
        "containers": [
            {
                "name": "main",
                "securityContext": {"allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]}},
            }
        ],
        "volumes": [{"name": "data", "persistentVolumeClaim": {"claimName": "c"}}],
    }
    pod.update(changes)
    return pod


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({}, []),
        ({"securityContext": {"seccompProfile": {"type": "RuntimeDefault"}}}, ["runAsNonRoot must be true"]),
        ({"securityContext": {"runAsNonRoot": True}}, ["seccompProfile.type must be RuntimeDefault"]),
        (
            {"securityContext": {"runAsNonRoot": True, "runAsUser": 0, "seccompProfile": {"type": "Localhost"}}},
            ["runAsUser must not be 0"],
        ),
        ({"containers": [{"name": "main"}]}, ["allowPrivilegeEscalation must be false", "drop must include ALL"]),
        (
            {
                "containers": [
                    {
                        "name": "main",
                        "securityContext": {
                            "allowPrivilegeEscalation": False,
                            "capabilities": {"drop": ["ALL"], "add": ["SYS_ADMIN"]},
                        },
                    }
                ]
            },
            ["beyond the default set", "may only hold NET_BIND_SERVICE"],
        ),
        ({"volumes": [{"name": "nfs", "nfs": {"server": "s", "path": "/"}}]}, ["has type ['nfs']"]),
        ({"hostNetwork": True}, ["hostNetwork must be unset or false"]),
    ],
)
def test_the_checker_refuses_what_admission_refuses(changes: dict[str, Any], expected: list[str]) -> None:
    found = violations(_bare_pod(**changes))
    assert len(found) == len(expected), found
    for problem, words in zip(found, expected, strict=True):
        assert words in problem


def test_the_examples_are_all_checked() -> None:
    assert {path.parent for path in EXAMPLE_FILES} >= {EXAMPLES}
