"""Lockfiles read and rendered through conda-lock's API; the environment id named by what gets installed."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from flowkit.environments.env_id import image_reference, short_id
from flowkit.environments.lockfile import locked_packages, read_lockfile, render_environment
from flowkit.environments.materialize_script import canonical_lines, environment_id
from flowkit.errors import FlowDefinitionError, FlowkitError
from tests.environments.conftest import TWO_PLATFORM_LOCKFILE


def _rewrite(tmp_path: Path, change: object) -> Path:
    """A copy of the shipped lockfile after `change(document)` edited its parsed YAML."""
    document = yaml.safe_load(TWO_PLATFORM_LOCKFILE.read_text())
    change(document)  # type: ignore[operator]
    path = tmp_path / "conda-lock.yml"
    path.write_text(yaml.safe_dump(document))
    return path


def test_locked_packages_are_listed_per_platform_with_their_manager() -> None:
    packages = locked_packages(read_lockfile(TWO_PLATFORM_LOCKFILE))
    assert list(packages) == ["linux-64", "osx-arm64"]
    linux = {package.name: (package.version, package.manager) for package in packages["linux-64"]}
    assert linux["numpy"] == ("1.26.4", "conda")
    assert linux["python"] == ("3.10.14", "conda")
    assert linux["requests"] == ("2.31.0", "pip")
    assert "pydantic" in linux  # flowkit's runtime dependency, added by `env lock`


def test_render_splits_explicit_conda_urls_from_hashed_pip_requirements() -> None:
    rendered = render_environment(read_lockfile(TWO_PLATFORM_LOCKFILE), "linux-64", flow="F", step="s")
    conda_lines = canonical_lines(rendered.conda_explicit)
    assert "@EXPLICIT" in rendered.conda_explicit.splitlines()
    assert all(line.startswith("https://conda.anaconda.org/conda-forge/") and "#" in line for line in conda_lines)
    assert any("/linux-64/numpy-1.26.4-" in line for line in conda_lines)
    assert not any("osx-arm64" in line for line in conda_lines)
    assert "input_hash" not in rendered.conda_explicit
    (pip_line,) = canonical_lines(rendered.pip_requirements)
    assert pip_line.startswith("requests @ https://files.pythonhosted.org/") and "#sha256=" in pip_line
    osx = render_environment(read_lockfile(TWO_PLATFORM_LOCKFILE), "osx-arm64", flow="F", step="s")
    assert any("/osx-arm64/numpy-1.26.4-" in line for line in canonical_lines(osx.conda_explicit))
    assert osx.env_id != rendered.env_id


def test_a_platform_missing_from_the_lockfile_is_an_error_naming_flow_step_and_platform() -> None:
    with pytest.raises(FlowDefinitionError) as caught:
        render_environment(read_lockfile(TWO_PLATFORM_LOCKFILE), "linux-aarch64", flow="TrainFlow", step="train")
    error = caught.value
    assert (error.flow, error.step, error.field) == ("TrainFlow", "train", "platforms")
    assert "'linux-aarch64'" in str(error) and "linux-64, osx-arm64" in str(error)


def test_a_lock_without_flowkits_runtime_dependency_cannot_run_tasks(tmp_path: Path) -> None:
    def drop_pydantic(document: dict) -> None:
        document["package"] = [p for p in document["package"] if p["name"] != "pydantic"]

    with pytest.raises(FlowDefinitionError, match="runtime dependency 'pydantic'"):
        render_environment(read_lockfile(_rewrite(tmp_path, drop_pydantic)), "linux-64", flow="F", step="s")


def test_a_lock_with_a_python_older_than_310_cannot_run_tasks(tmp_path: Path) -> None:
    def old_python(document: dict) -> None:
        for package in document["package"]:
            if package["name"] == "python":
                package["version"] = "3.9.18"

    with pytest.raises(FlowDefinitionError, match=r"python 3\.9\.18, flowkit needs 3\.10\+"):
        render_environment(read_lockfile(_rewrite(tmp_path, old_python)), "linux-64", flow="F", step="s")


def test_env_id_ignores_package_order_key_order_and_conda_locks_own_hash(tmp_path: Path) -> None:
    original = render_environment(read_lockfile(TWO_PLATFORM_LOCKFILE), "linux-64", flow="F", step="s").env_id

    def shuffle(document: dict) -> None:
        document["package"] = [dict(reversed(list(p.items()))) for p in reversed(document["package"])]
        document["metadata"]["content_hash"] = {"linux-64": "0" * 64, "osx-arm64": "1" * 64}

    shuffled = render_environment(read_lockfile(_rewrite(tmp_path, shuffle)), "linux-64", flow="F", step="s")
    assert shuffled.env_id == original
    assert len(original) == 64 and int(original, 16) >= 0


def test_env_id_changes_when_one_locked_package_changes(tmp_path: Path) -> None:
    original = render_environment(read_lockfile(TWO_PLATFORM_LOCKFILE), "linux-64", flow="F", step="s").env_id

    def bump_numpy(document: dict) -> None:
        for package in document["package"]:
            if package["name"] == "numpy" and package["platform"] == "linux-64":
                package["url"] = package["url"].replace("1.26.4", "1.26.5")
                package["version"] = "1.26.5"

    bumped = render_environment(read_lockfile(_rewrite(tmp_path, bump_numpy)), "linux-64", flow="F", step="s")
    assert bumped.env_id != original


def test_env_id_covers_the_pip_part() -> None:
    conda_part = "@EXPLICIT\nhttps://conda.anaconda.org/conda-forge/linux-64/python-3.10.14-h0_0.conda#abc\n"
    assert environment_id(conda_part, "requests @ https://x/r.whl#sha256=1\n") != environment_id(conda_part, "")
    assert environment_id(conda_part, "") == environment_id("# a comment\n" + conda_part + "\n", "\n")


def test_derived_names() -> None:
    env_id = "ab" * 32
    assert image_reference("ghcr.io/acme/env", env_id) == f"ghcr.io/acme/env:{env_id}"
    assert short_id(env_id) == env_id[:16]


def test_a_missing_or_broken_lockfile_says_how_to_make_one(tmp_path: Path) -> None:
    with pytest.raises(FlowkitError, match="env lock"):
        read_lockfile(tmp_path / "conda-lock.yml")
    broken = tmp_path / "broken.yml"
    broken.write_text("version: 1\nmetadata: {}\n")
    with pytest.raises(FlowkitError, match="is not a conda-lock lockfile"):
        read_lockfile(broken)


def test_conda_lock_loads_only_when_a_lockfile_is_read() -> None:
    """conda-lock is an optional, heavy extra: importing the environments layer and its CLI must not load it."""
    code = (
        "import sys, flowkit.environments, flowkit.environments.local, flowkit.cli.env; "
        "print('conda_lock' in sys.modules)"
    )
    checked = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert checked.stdout == "False\n", checked.stderr
