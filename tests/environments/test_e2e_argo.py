"""The conda example compiled and run through the Argo emulator: image pods and a PVC-materialized pod.

Pods are local processes in private mount namespaces (the datastore claim shows a local directory at /flowkit); the
image is ignored, so "image" pods run the test interpreter with the environment's id, and the PVC pod really runs the
materialize script, which builds with the stand-in micromamba and runs the task with the built environment's Python.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import yaml

from flowkit.datastore import DataStore
from flowkit.environments.lockfile import read_lockfile, render_environment
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


def test_example_runs_with_its_environment_id_recorded_and_one_pvc_build(tmp_path: Path) -> None:
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
    config_map, manifest = list(yaml.safe_load_all(compiled.stdout))

    workdir = tmp_path / "work"  # visible inside the pods' private /tmp
    standin_bin = workdir / "standin-bin"
    install_standin(standin_bin)
    log = workdir / "standin.log"
    log.touch()
    log.chmod(0o666)  # the stand-in records each call from the pods, which run as uid 1000
    env = {"PATH": f"{standin_bin}{os.pathsep}{os.environ['PATH']}", "STANDIN_LOG": str(log)}
    run = run_workflow_template(
        manifest, config_maps=[config_map], pvc_dirs={"flowkit-datastore": pvc}, workdir=workdir, env=env, timeout=300
    )
    run.assert_succeeded()

    env_id = render_environment(
        read_lockfile(project / "conda-lock.yml"), "linux-64", flow="CondaEnvFlow", step="start"
    ).env_id
    creates = [line for line in log.read_text().splitlines() if '"create"' in line]
    assert len(creates) == 1
    assert (pvc / "envs" / env_id / ".flowkit-complete").read_text().strip() == env_id
    store = DataStore(pvc)
    (run_dir,) = (pvc / "runs" / "CondaEnvFlow").iterdir()
    run_record = store.read_run("CondaEnvFlow", run_dir.name)
    assert run_record is not None and run_record.environment_id == env_id
    for step in ("start", "summarize", "end"):
        record = store.successful_record(TaskRef("CondaEnvFlow", run_dir.name, step))
        assert record.environment_id == env_id, step
    summary = store.successful_record(TaskRef("CondaEnvFlow", run_dir.name, "summarize"))
    assert store.blobs.load(summary.artifacts["report"].sha256) == "mean 500,000 over 11 values"
