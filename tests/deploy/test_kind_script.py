"""The kind end-to-end script cannot reach a real cluster here (no Docker); it runs against stand-in docker, kind and
kubectl executables that record every call, while its flow's argo-* commands talk to the local API server. That
checks the calls Argo's install needs (server-side apply of the version's manifests), the namespace setup, and that
a Failed workflow stops the script at once."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from flowkit.compiler.names import TEMPLATE_LABEL
from tests.support.argo_schema import validate_manifest_stream
from tests.support.fake_kube import FakeKube

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "kind-e2e.sh"
STANDIN = Path(__file__).with_name("standin_tool.py")


def script_flow(directory: Path) -> Path:
    """Write the flow that the script embeds (its `e2e_flow.py` here-document) into ``directory``."""
    found = re.search(r"<<'PYTHON'\n(.*?)\nPYTHON\n", SCRIPT.read_text(), re.DOTALL)
    assert found, "the script no longer embeds its flow as a here-document"
    flow = directory / "e2e_flow.py"
    flow.write_text(found.group(1))
    return flow


def flowkit_command(flow: Path, *arguments: str) -> str:
    done = subprocess.run(
        [sys.executable, str(flow), *arguments], capture_output=True, text=True, timeout=120, cwd=flow.parent
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_the_script_is_valid_bash_that_stops_on_errors() -> None:
    subprocess.run(["bash", "-n", str(SCRIPT)], check=True)
    assert "set -euo pipefail" in SCRIPT.read_text()


@pytest.mark.e2e
def test_the_scripts_flow_deploys_runs_and_is_deleted_through_the_cli(tmp_path: Path, kube: FakeKube) -> None:
    kube.namespaces.add("argo")
    flow = script_flow(tmp_path)
    kubeconfig = str(kube.write_kubeconfig(tmp_path / "kubeconfig", namespace="argo"))
    target = ("--kubeconfig", kubeconfig)

    documents = validate_manifest_stream(flowkit_command(flow, "argo-create", "--only-yaml"))
    assert [document["kind"] for document in documents] == ["ConfigMap", "WorkflowTemplate"]
    assert kube.requests == []

    created = flowkit_command(flow, "argo-create", *target)
    again = flowkit_command(flow, "argo-create", *target)
    run = flowkit_command(flow, "argo-trigger", *target, "--greeting", 'it\'s "quoted"').strip().splitlines()[-1]
    listed = flowkit_command(flow, "argo-list-runs", *target)

    assert "Created WorkflowTemplate" in created and "Updated WorkflowTemplate" in again
    assert kube.exists("configmaps", documents[0]["metadata"]["name"], namespace="argo")
    (template_name,) = [name for resource, _, name in kube.objects if resource == "workflowtemplates"]
    package_files = [p for p in (kube.pvc_dir("flowkit-datastore") / "packages").rglob("*") if p.is_file()]
    assert {p.name for p in package_files} >= {"code.tar.gz", "manifest.json"}
    assert len(kube.deleted_pods) == 2  # one helper pod per argo-create, both gone
    workflow = kube.stored("workflows", run, namespace="argo")
    assert workflow["metadata"]["labels"][TEMPLATE_LABEL] == template_name
    (parameter,) = workflow["spec"]["arguments"]["parameters"]
    assert json.loads(parameter["value"]) == 'it\'s "quoted"'
    assert run in listed

    flowkit_command(flow, "argo-delete", *target)
    assert not kube.exists("workflowtemplates", template_name, namespace="argo")


def _run_script(tmp_path: Path, kube: FakeKube, phase: str) -> tuple[subprocess.CompletedProcess[str], list[dict]]:
    """The script with docker, kind and kubectl replaced by recording stand-ins and the flow's cluster the local
    API server; returns its result and the stand-ins' calls in order."""
    kube.namespaces.add("argo")
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for tool in ("docker", "kind", "kubectl"):
        wrapper = bin_dir / tool
        wrapper.write_text(f'#!/bin/sh\nexec {sys.executable} {STANDIN} {tool} "$@"\n')
        wrapper.chmod(0o755)
    log = tmp_path / "calls.jsonl"
    env = {
        **os.environ,
        "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}",
        "PYTHON": sys.executable,
        "E2E_WORK": str(tmp_path / "work"),
        "KUBECONFIG": str(kube.write_kubeconfig(tmp_path / "kubeconfig", namespace="argo")),
        "STANDIN_LOG": str(log),
        "STANDIN_PHASE": phase,
        "STANDIN_LOGS": 'greeting=it\'s "quoted" total=14',
        "POLL_SECONDS": "1",
    }
    done = subprocess.run(["bash", str(SCRIPT)], capture_output=True, text=True, timeout=300, env=env, cwd=tmp_path)
    calls = [json.loads(line) for line in log.read_text().splitlines()]
    return done, calls


def _index(calls: list[dict], tool: str, *words: str) -> int:
    """Position of the first call of ``tool`` whose arguments contain ``words`` in order."""
    for position, call in enumerate(calls):
        if call["tool"] == tool and " ".join(words) in " ".join(call["argv"]):
            return position
    raise AssertionError(f"no call `{tool} {' '.join(words)}` among {[[c['tool'], *c['argv']] for c in calls]}")


@pytest.mark.e2e
def test_the_script_installs_argo_server_side_prepares_the_namespace_and_runs_the_flow(
    tmp_path: Path, kube: FakeKube
) -> None:
    done, calls = _run_script(tmp_path, kube, "Succeeded")
    assert done.returncode == 0, done.stdout + done.stderr

    manifests = "https://github.com/argoproj/argo-workflows/releases/download/v4.1.2/quick-start-minimal.yaml"
    steps = [
        _index(calls, "kind", "create", "cluster", "--name", "flowkit-e2e"),
        _index(calls, "kubectl", "apply", "-f", "-"),  # the namespace
        _index(calls, "kubectl", "apply", "--server-side", "--force-conflicts", "-n", "argo", "-f", manifests),
        _index(calls, "kubectl", "-n", "argo", "rollout", "status", "deployment/workflow-controller"),
        _index(calls, "kubectl", "apply", "-n", "argo", "-f", "-"),  # cluster-setup's objects
        _index(calls, "docker", "build", "-t", "flowkit-runtime:e2e"),
        _index(calls, "kind", "load", "docker-image", "flowkit-runtime:e2e", "--name", "flowkit-e2e"),
        _index(calls, "kubectl", "-n", "argo", "get", "workflow"),
        _index(calls, "kind", "delete", "cluster", "--name", "flowkit-e2e"),
    ]
    assert steps == sorted(steps)
    setup = yaml.safe_load_all(calls[steps[4]]["stdin"])
    kinds = {(document["kind"], document["metadata"]["name"]) for document in setup}
    assert {
        ("ServiceAccount", "flowkit"),
        ("Role", "flowkit-executor"),
        ("PersistentVolumeClaim", "flowkit-datastore"),
    } <= kinds
    (workflow,) = [name for resource, _, name in kube.objects if resource == "workflows"]
    assert f"workflow: {workflow}" in done.stdout
    assert not [key for key in kube.objects if key[0] == "workflowtemplates"]  # argo-delete ran at the end


@pytest.mark.e2e
def test_a_failed_workflow_stops_the_script_at_once(tmp_path: Path, kube: FakeKube) -> None:
    done, calls = _run_script(tmp_path, kube, "Failed")

    assert done.returncode == 1
    assert "FAILED: workflow" in done.stderr and "is Failed" in done.stderr
    phase_reads = [call for call in calls if "jsonpath={.status.phase}" in call["argv"]]
    assert len(phase_reads) == 1  # no waiting once the phase is final
    assert calls[-1]["argv"][:2] == ["delete", "cluster"]  # the cluster is still cleaned up
