"""`run --environment conda` on the conda example: its steps run in the locked environment, built once."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from flowkit.datastore import DataStore
from flowkit.environments.local import current_platform
from flowkit.environments.lockfile import read_lockfile, render_environment
from flowkit.identity import TaskRef
from tests.environments.installer_double import install_standin

pytestmark = pytest.mark.e2e
EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "conda_env"


def test_example_runs_locally_in_its_environment(tmp_path: Path) -> None:
    project = tmp_path / "project"
    shutil.copytree(EXAMPLE, project, ignore=shutil.ignore_patterns("__pycache__", "flowkit-image"))
    datastore = tmp_path / "datastore"
    standin_bin = tmp_path / "standin-bin"
    install_standin(standin_bin)
    log = tmp_path / "standin.log"
    env = {
        **os.environ,
        "PATH": f"{standin_bin}{os.pathsep}{os.environ['PATH']}",
        "STANDIN_LOG": str(log),
        "FLOWKIT_DATASTORE_ROOT": str(datastore),
    }
    for _ in range(2):
        ran = subprocess.run(
            [sys.executable, "flow.py", "run", "--environment", "conda"],
            cwd=project,
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert ran.returncode == 0, ran.stdout + ran.stderr
        assert "mean 500,000 over 11 values" in ran.stdout
    creates = [line for line in log.read_text().splitlines() if '"create"' in line]
    assert len(creates) == 1  # the second run reuses the environment

    env_id = render_environment(
        read_lockfile(project / "conda-lock.yml"), current_platform(), flow="CondaEnvFlow", step="start"
    ).env_id
    store = DataStore(datastore)
    for run_dir in (datastore / "runs" / "CondaEnvFlow").iterdir():
        run_record = store.read_run("CondaEnvFlow", run_dir.name)
        assert run_record is not None and run_record.environment_id == env_id
        for step in ("start", "summarize", "end"):
            record = store.successful_record(TaskRef("CondaEnvFlow", run_dir.name, step))
            assert record.environment_id == env_id


def test_without_an_installer_the_run_says_what_is_missing(tmp_path: Path) -> None:
    project = tmp_path / "project"
    shutil.copytree(EXAMPLE, project, ignore=shutil.ignore_patterns("__pycache__", "flowkit-image"))
    python_dir = str(Path(sys.executable).parent)
    env = {
        **os.environ,
        "PATH": f"{python_dir}{os.pathsep}/usr/bin{os.pathsep}/bin",
        "FLOWKIT_DATASTORE_ROOT": str(tmp_path / "datastore"),
    }
    assert not any(shutil.which(name, path=env["PATH"]) for name in ("micromamba", "mamba", "conda"))
    ran = subprocess.run(
        [sys.executable, "flow.py", "run", "--environment", "conda"],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert ran.returncode != 0
    assert "needs one of micromamba, mamba, conda on PATH" in ran.stdout + ran.stderr
