"""The stdlib-only materialization script: one build per environment id, waiting, reuse, and failure recovery.

The script runs as pods run it (from the bootstrap ConfigMap's files, reading the environment's ConfigMap, here written
to directories in place of the mounts, with `-I -S` so nothing but the standard library is importable), against a
stand-in `micromamba` that records its calls and lays out a fake environment.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from flowkit.compiler.templates import NOT_RETRIED_EXIT_CODES
from flowkit.environments import materialize_script
from flowkit.environments.lockfile import read_lockfile, render_environment
from flowkit.environments.materialize import MATERIALIZE_FILE, environment_files, materialize_command
from flowkit.environments.materialize_script import (
    EXIT_INPUTS_REFUSED,
    EXPLICIT_FILE,
    MARKER_NAME,
    PIP_FILE,
    config_map_name,
    is_trusted,
)
from flowkit.packaging.bootstrap import bootstrap_files
from flowkit.pod_files import PodFiles
from tests.environments.conftest import TWO_PLATFORM_LOCKFILE, Standin

REPORT = (
    "import json, os; print(json.dumps({k: os.environ.get(k) for k in "
    "('CONDA_PREFIX', 'FLOWKIT_ENVIRONMENT_ID', 'STANDIN_PYTHON')}))"
)


@pytest.fixture(scope="module")
def environment() -> object:
    return render_environment(read_lockfile(TWO_PLATFORM_LOCKFILE), "linux-64", flow="F", step="s")


def _mount(files: PodFiles, directory: Path) -> Path:
    """What the kubelet shows a container of ``files`` (a ConfigMap): one file per key, in ``directory``.

    Each file appears whole (written beside and renamed, as the kubelet swaps a ConfigMap's files in at once): tasks
    running at the same time mount the same directory, and one must never execute a file another is still writing.
    """
    directory.mkdir(parents=True, exist_ok=True)
    for name, text in files.files.items():
        partial = directory / f".{name}.{os.getpid()}.{threading.get_ident()}"
        partial.write_text(text, encoding="utf-8")
        partial.replace(directory / name)
    return directory


def _run(
    environment: object,
    envs_dir: Path,
    *,
    files_dir: Path | None = None,
    extra_env: dict[str, str] | None = None,
    command: list[str] | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run the script the way a pod does, with the task command replaced by a report of its environment.

    ``files_dir`` stands for the environment's ConfigMap mount; by default its files as compiled.
    """
    scripts = _mount(bootstrap_files(), envs_dir.parent / "bootstrap-mount")
    wrapper = materialize_command(environment, str(envs_dir.parent), scripts_dir=str(scripts))  # type: ignore[arg-type]
    assert wrapper[:2] == ["python3", str(scripts / MATERIALIZE_FILE)] and wrapper[-1] == "--"
    arguments = wrapper[2:-1]
    if files_dir is None:
        files_dir = _mount(environment_files(environment), envs_dir.parent / "environment-mount")  # type: ignore[arg-type]
    arguments[arguments.index("--files-dir") + 1] = str(files_dir)
    argv = [sys.executable, "-I", "-S", wrapper[1], *arguments, "--", *(command or ["python", "-c", REPORT])]
    return subprocess.run(argv, capture_output=True, text=True, env={**os.environ, **(extra_env or {})}, timeout=60)


def test_first_task_builds_and_runs_the_command_with_the_environments_python(
    environment: object, standin: Standin, tmp_path: Path
) -> None:
    envs_dir = tmp_path / "envs"
    done = _run(environment, envs_dir)
    assert done.returncode == 0, done.stderr
    env_id = environment.env_id  # type: ignore[attr-defined]
    report = json.loads(done.stdout)
    assert report == {
        "CONDA_PREFIX": str(envs_dir / env_id),
        "FLOWKIT_ENVIRONMENT_ID": env_id,
        "STANDIN_PYTHON": str(envs_dir / env_id / "bin" / "python"),
    }
    (create,) = standin.creates()
    assert create[:4] == ["micromamba", "create", "--yes", "--prefix"]
    build_dir = Path(create[4])
    assert build_dir.parent == envs_dir and build_dir.name.startswith(f".{env_id}.build-")
    assert (envs_dir / env_id).resolve() == build_dir.resolve()  # the link points at the never-moved build
    assert (build_dir / MARKER_NAME).read_text().strip() == env_id
    installed = (build_dir / "conda-meta" / "explicit.txt").read_text()
    assert installed == environment.conda_explicit  # type: ignore[attr-defined]
    pip_calls = [argv for argv in standin.calls() if argv[:3] == ["python", "-m", "pip"]]
    assert len(pip_calls) == 1
    assert {"--no-deps", "--require-hashes"} <= set(pip_calls[0])
    leftovers = [path.name for path in envs_dir.iterdir() if path.name.startswith(".flowkit-build-")]
    assert leftovers == []  # the scratch space (explicit file, package cache) is gone


def test_later_tasks_reuse_the_environment_without_building(
    environment: object, standin: Standin, tmp_path: Path
) -> None:
    envs_dir = tmp_path / "envs"
    for _ in range(3):
        assert _run(environment, envs_dir).returncode == 0
    assert len(standin.creates()) == 1


def test_concurrent_tasks_build_exactly_once(environment: object, standin: Standin, tmp_path: Path) -> None:
    envs_dir = tmp_path / "envs"
    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(lambda _: _run(environment, envs_dir, extra_env={"STANDIN_DELAY": "0.5"}), range(4)))
    assert [result.returncode for result in results] == [0, 0, 0, 0], [result.stderr for result in results]
    assert len(standin.creates()) == 1
    assert len({json.loads(result.stdout)["CONDA_PREFIX"] for result in results}) == 1


def test_a_failed_build_leaves_nothing_trusted_and_the_next_task_rebuilds(
    environment: object, standin: Standin, tmp_path: Path
) -> None:
    envs_dir = tmp_path / "envs"
    env_id = environment.env_id  # type: ignore[attr-defined]
    failed = _run(environment, envs_dir, extra_env={"STANDIN_FAIL": "1"})
    assert failed.returncode == 1
    assert f"flowkit environment {env_id}" in failed.stderr and "exited with status 1" in failed.stderr
    assert not is_trusted(envs_dir / env_id, env_id)
    assert sorted(path.name for path in envs_dir.iterdir()) == [f"{env_id}.lock"]  # no half environment
    assert _run(environment, envs_dir).returncode == 0
    assert len(standin.creates()) == 2


def test_leftovers_of_a_killed_build_are_replaced(environment: object, standin: Standin, tmp_path: Path) -> None:
    envs_dir = tmp_path / "envs"
    env_id = environment.env_id  # type: ignore[attr-defined]
    killed = envs_dir / f".{env_id}.build-dead"
    (killed / "bin").mkdir(parents=True)  # a build killed before its marker was written
    (envs_dir / env_id).symlink_to(killed.name)
    assert _run(environment, envs_dir).returncode == 0
    assert not killed.exists()
    assert len(standin.creates()) == 1
    assert is_trusted(envs_dir / env_id, env_id)


def test_a_marker_of_another_id_is_not_trusted(environment: object, standin: Standin, tmp_path: Path) -> None:
    envs_dir = tmp_path / "envs"
    env_id = environment.env_id  # type: ignore[attr-defined]
    (envs_dir / env_id).mkdir(parents=True)
    (envs_dir / env_id / MARKER_NAME).write_text("0" * 64)
    assert _run(environment, envs_dir).returncode == 0
    assert len(standin.creates()) == 1


def test_files_that_do_not_hash_to_the_id_are_refused_without_a_retry(
    environment: object, standin: Standin, tmp_path: Path
) -> None:
    tampered = tmp_path / "tampered"
    tampered.mkdir()
    (tampered / EXPLICIT_FILE).write_text(environment.conda_explicit + "https://evil.example/x.conda#0\n")  # type: ignore[attr-defined]
    (tampered / PIP_FILE).write_text("")
    refused = _run(environment, tmp_path / "envs", files_dir=tampered)
    assert refused.returncode == EXIT_INPUTS_REFUSED and "not to the expected environment id" in refused.stderr
    assert standin.calls() == []


def test_a_missing_config_map_fails_in_one_line_naming_it_without_a_retry(
    environment: object, standin: Standin, tmp_path: Path
) -> None:
    empty_mount = tmp_path / "optional-mount"  # an optional ConfigMap that does not exist: an empty directory
    empty_mount.mkdir()
    missing = _run(environment, tmp_path / "envs", files_dir=empty_mount)
    env_id = environment.env_id  # type: ignore[attr-defined]
    assert missing.returncode == EXIT_INPUTS_REFUSED
    assert missing.stderr.splitlines() == [
        f"flowkit environment {env_id}: {empty_mount / EXPLICIT_FILE} does not exist: the ConfigMap "
        f"{config_map_name(env_id)} is missing from the pod's namespace; `argo-create` creates it, or apply every "
        "document `argo-create --only-yaml` prints"
    ]
    assert standin.calls() == []


def test_refused_inputs_exit_with_the_status_argo_does_not_retry() -> None:
    assert EXIT_INPUTS_REFUSED in NOT_RETRIED_EXIT_CODES


def test_without_an_installer_the_task_fails_saying_what_is_missing(
    environment: object, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    missing = _run(environment, tmp_path / "envs")
    assert missing.returncode == 1
    assert "needs one of micromamba, mamba, conda on PATH" in missing.stderr


def test_command_line_errors_exit_with_usage(standin: Standin) -> None:
    no_command = subprocess.run(
        [sys.executable, "-I", "-S", str(materialize_script.__file__), "--envs-dir", "x", "--env-id", "y"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert no_command.returncode == 2 and "expected '-- <command>'" in no_command.stderr
