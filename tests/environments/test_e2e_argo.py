"""The conda example compiled and run through the Argo emulator: image pods and a PVC-materialized pod.

Pods are local processes in private mount namespaces (the datastore claim shows a local directory at /flowkit); the
image is ignored, so "image" pods run the test interpreter with the environment's id, and the PVC pod really runs the
materialize script from the bootstrap ConfigMap's mount, reading the explicit files from the environment's ConfigMap
mount, builds with the stand-in micromamba and runs the task with the built environment's Python.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from flowkit.datastore import DataStore
from flowkit.environments.lockfile import read_lockfile, render_environment
from flowkit.environments.materialize_script import EXIT_INPUTS_REFUSED, EXPLICIT_FILE
from flowkit.identity import TaskRef
from tests.environments.installer_double import install_standin
from tests.support.argo_emulator import run_workflow_template

pytestmark = pytest.mark.e2e
EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "conda_env"

# Runs in a fresh interpreter: build and publish the code package onto the "PVC", then compile against it.
COMPILE = """
import sys
from flowkit.compiler import compile_flow
from flowkit.compiler.render import to_yaml
from flowkit.cli.main import load_flow_class
from flowkit.packaging import build_package, build_payload, publish_to_dir

project, pvc = sys.argv[1], sys.argv[2]
flow_cls = load_flow_class(f"{project}/flow.py")
ref = publish_to_dir(build_package(flow_cls, project), build_payload(flow_cls, project), pvc)
print(to_yaml(compile_flow(flow_cls, package=ref)), end="")
"""


@dataclass
class CompiledExample:
    """The example published onto a claim directory and compiled against it: the stream's three documents."""

    pvc: Path
    workdir: Path
    bootstrap: dict[str, Any]
    environment: dict[str, Any]
    manifest: dict[str, Any]


@pytest.fixture
def compiled_example(tmp_path: Path) -> CompiledExample:
    project = tmp_path / "project"
    shutil.copytree(EXAMPLE, project, ignore=shutil.ignore_patterns("__pycache__", "flowkit-image"))
    pvc = tmp_path / "pvc"
    pvc.mkdir()
    compiled = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(COMPILE), str(project), str(pvc)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert compiled.returncode == 0, compiled.stderr
    bootstrap, environment, manifest = yaml.safe_load_all(compiled.stdout)
    return CompiledExample(pvc, tmp_path / "work", bootstrap, environment, manifest)  # work: the pods' private /tmp


def _standin_environment(workdir: Path) -> tuple[dict[str, str], Path]:
    """Variables that put the recording micromamba stand-in on the pods' PATH, and its log."""
    standin_bin = workdir / "standin-bin"
    install_standin(standin_bin)
    log = workdir / "standin.log"
    log.touch()
    log.chmod(0o666)  # the stand-in records each call from the pods, which run as uid 1000
    return {"PATH": f"{standin_bin}{os.pathsep}{os.environ['PATH']}", "STANDIN_LOG": str(log)}, log


def test_example_runs_with_its_environment_id_recorded_and_one_pvc_build(compiled_example: CompiledExample) -> None:
    pvc, environment, manifest = compiled_example.pvc, compiled_example.environment, compiled_example.manifest
    (pvc_pod,) = [
        t for t in manifest["spec"]["templates"] if t.get("container", {}).get("command", [""])[0] == "python3"
    ]
    assert pvc_pod["container"]["command"][1] == "/flowkit-bootstrap/materialize.py"
    env, log = _standin_environment(compiled_example.workdir)
    run = run_workflow_template(
        manifest,
        config_maps=[compiled_example.bootstrap, environment],
        pvc_dirs={"flowkit-datastore": pvc},
        workdir=compiled_example.workdir,
        env=env,
        timeout=300,
    )
    run.assert_succeeded()

    env_id = render_environment(
        read_lockfile(EXAMPLE / "conda-lock.yml"), "linux-64", flow="CondaEnvFlow", step="start"
    ).env_id
    creates = [line for line in log.read_text().splitlines() if '"create"' in line]
    assert len(creates) == 1
    assert (pvc / "envs" / env_id / ".flowkit-complete").read_text().strip() == env_id
    # What was installed is what the environment's ConfigMap holds.
    assert (pvc / "envs" / env_id / "conda-meta" / "explicit.txt").read_text() == environment["data"][EXPLICIT_FILE]
    store = DataStore(pvc)
    (run_dir,) = (pvc / "runs" / "CondaEnvFlow").iterdir()
    run_record = store.read_run("CondaEnvFlow", run_dir.name)
    assert run_record is not None and run_record.environment_id == env_id
    for step in ("start", "summarize", "end"):
        record = store.successful_record(TaskRef("CondaEnvFlow", run_dir.name, step))
        assert record.environment_id == env_id, step
    summary = store.successful_record(TaskRef("CondaEnvFlow", run_dir.name, "summarize"))
    assert store.blobs.load(summary.artifacts["report"].sha256) == "mean 500,000 over 11 values"


def test_a_missing_environment_config_map_fails_its_pod_in_one_line_with_the_status_retries_skip(
    compiled_example: CompiledExample,
) -> None:
    env, log = _standin_environment(compiled_example.workdir)
    run = run_workflow_template(
        compiled_example.manifest,
        config_maps=[compiled_example.bootstrap],  # the environment's ConfigMap was never created
        pvc_dirs={"flowkit-datastore": compiled_example.pvc},
        workdir=compiled_example.workdir,
        env=env,
        timeout=300,
    )
    assert run.phase == "Failed", run.logs()
    (summarize,) = [node for node in run.nodes if node.kind == "container" and "summarize" in node.name]
    attempt = summarize.attempts[-1]
    assert attempt.exit_code == EXIT_INPUTS_REFUSED  # one of NOT_RETRIED_EXIT_CODES (see test_materialize)
    name = compiled_example.environment["metadata"]["name"]
    assert f"the ConfigMap {name} is missing from the pod's namespace; `argo-create` creates it" in attempt.stderr
    assert log.read_text() == ""  # nothing was installed
