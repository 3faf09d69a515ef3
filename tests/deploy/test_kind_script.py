"""The kind end-to-end script cannot run here (no Docker); check what can be checked without a cluster: its syntax,
and that the flow it deploys goes through the real argo-* commands against the local API server."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from flowkit.deploy.resources import TEMPLATE_LABEL
from tests.support.argo_schema import validate_manifest
from tests.support.fake_kube import FakeKube

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "kind-e2e.sh"


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

    for document in yaml.safe_load_all(flowkit_command(flow, "argo-create", "--only-yaml")):
        validate_manifest(document)
    assert kube.requests == []

    created = flowkit_command(flow, "argo-create", *target)
    again = flowkit_command(flow, "argo-create", *target)
    run = flowkit_command(flow, "argo-trigger", *target, "--greeting", 'it\'s "quoted"').strip().splitlines()[-1]
    listed = flowkit_command(flow, "argo-list-runs", *target)

    assert "Created WorkflowTemplate" in created and "Updated WorkflowTemplate" in again
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
