"""`run --environment conda --datastore-root X` builds the step's environment under X, like everything else of the run.

The environment is materialized by the stand-in installer of the environment tests (it records its calls and creates
a prefix whose python is this interpreter), so the whole local path runs: lock, materialize, spawn the task.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from flowkit.environments.local import current_platform
from flowkit.environments.lockfile import read_lockfile, render_environment
from tests.environments.installer_double import install_standin

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "conda_env"


@pytest.mark.e2e
def test_environments_are_built_under_the_given_datastore_root(tmp_path: Path) -> None:
    project = tmp_path / "project"
    shutil.copytree(EXAMPLE, project, ignore=shutil.ignore_patterns("__pycache__", "flowkit-image", ".flowkit"))
    standin_bin = tmp_path / "standin-bin"
    install_standin(standin_bin)
    environment = {
        **os.environ,
        "PATH": f"{standin_bin}{os.pathsep}{os.environ['PATH']}",
        "STANDIN_LOG": str(tmp_path / "standin.log"),
    }
    environment.pop("FLOWKIT_DATASTORE_ROOT", None)  # only the option says where the datastore is
    datastore = tmp_path / "elsewhere"

    ran = subprocess.run(
        [sys.executable, "flow.py", "run", "--environment", "conda", "--datastore-root", str(datastore)],
        cwd=project,
        env=environment,
        capture_output=True,
        text=True,
        timeout=300,
    )

    assert ran.returncode == 0, ran.stdout + ran.stderr
    env_id = render_environment(
        read_lockfile(project / "conda-lock.yml"), current_platform(), flow="CondaEnvFlow", step="start"
    ).env_id
    assert (datastore / "envs" / env_id).is_dir()
    assert not (project / ".flowkit").exists(), "nothing of the run may land in the default ./.flowkit"
