"""Build a locked conda environment once per environment id, then run a command with its Python.

This module uses only the standard library on purpose: in a pod it runs as `python3 /flowkit-bootstrap/materialize.py`
(a file of the bootstrap ConfigMap) on a stock Miniconda (or any python3 + micromamba/conda) image where flowkit is not
installed. Locally, flowkit imports it and calls `materialize` directly, so pods and laptops build environments with
the same code.

Layout under `envs_dir` (the datastore's `envs/`, on the shared PVC in a cluster):

    <env_id>                  symlink to the build directory; exists only once the build completed
    .<env_id>.build-<nonce>/  the environment itself (its real, permanent prefix), with the marker file inside
    <env_id>.lock             exclusive flock: one builder per id, everybody else waits for it

Conda environments hard-code their prefix in scripts and binaries, so a built directory is never moved: "renaming
into place" is the atomic replacement of the `<env_id>` symlink. The completion marker (holding the id) is the only
trust signal: a build that failed or was killed leaves at most an untrusted build directory, which the next builder
removes under the lock before it builds again.

Command line (pods):
    python3 materialize.py --envs-dir /flowkit/envs --env-id <id> --files-dir /flowkit-environment -- <command>
`--files-dir` holds `EXPLICIT_FILE` and `PIP_FILE`, the environment's ConfigMap (named by the id, `config_map_name`);
the script checks that they hash to the id before trusting them. Inputs that no
retry can fix (files missing, or not those of the id) exit with `EXIT_INPUTS_REFUSED`, which the pods' retryStrategy
does not retry; a failed build exits 1 and is retried.
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import hashlib
import json
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path

MARKER_NAME = ".flowkit-complete"
EXPLICIT_FILE = "conda-explicit.txt"
PIP_FILE = "pip-requirements.txt"
"""The rendered environment's two files: in its ConfigMap, in an image's build context, and while building."""
CONFIG_MAP_NAME_PREFIX = "flowkit-environment-"
CONFIG_MAP_ID_LENGTH = 20
"""An environment's ConfigMap (its two files) is named by its id: `config_map_name`."""
EXIT_INPUTS_REFUSED = 3
"""The package bootstrap's own failure status (`EXIT_BOOTSTRAP_FAILED`), which Argo's retryStrategy skips."""
#: Installers able to create an environment from an explicit lockfile without solving, in order of preference.
INSTALLERS = ("micromamba", "mamba", "conda")


class MaterializeError(Exception):
    """The environment could not be built or its inputs are inconsistent."""


class InputsRefused(MaterializeError):
    """The environment's files are missing or are not those of its id: building again cannot help."""


def canonical_lines(text: str) -> list[str]:
    """The requirement lines of an explicit conda file or a pip requirements file, sorted, without comments."""
    lines = (line.strip() for line in text.splitlines())
    return sorted(line for line in lines if line and not line.startswith("#") and line != "@EXPLICIT")


def environment_id(conda_explicit: str, pip_requirements: str) -> str:
    """sha256 of the canonical conda and pip parts: what gets installed, independent of order and comments."""
    canonical = json.dumps(
        {"conda": canonical_lines(conda_explicit), "pip": canonical_lines(pip_requirements)},
        sort_keys=True,
        separators=(",", ":"),
    )
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def config_map_name(env_id: str) -> str:
    """The ConfigMap holding the files of environment ``env_id``: named by the digest they are checked against."""
    return CONFIG_MAP_NAME_PREFIX + env_id[:CONFIG_MAP_ID_LENGTH]


def read_environment_files(files_dir: Path, env_id: str) -> tuple[str, str]:
    """The (conda explicit file, pip requirements) of ``env_id``, mounted at ``files_dir`` from its ConfigMap."""
    try:
        conda_explicit = (files_dir / EXPLICIT_FILE).read_text(encoding="utf-8")
        pip_requirements = (files_dir / PIP_FILE).read_text(encoding="utf-8")
    except FileNotFoundError as error:
        raise InputsRefused(
            f"{error.filename} does not exist: the ConfigMap {config_map_name(env_id)} is missing from the pod's "
            "namespace; `argo-create` creates it, or apply every document `argo-create --only-yaml` prints"
        ) from error
    return conda_explicit, pip_requirements


def find_installer() -> str | None:
    """The first of micromamba, mamba, conda on PATH, or None."""
    for name in INSTALLERS:
        found = shutil.which(name)
        if found:
            return found
    return None


def is_trusted(prefix: Path, env_id: str) -> bool:
    """Whether `prefix` is a completed build of `env_id` (its marker holds the id)."""
    try:
        return (prefix / MARKER_NAME).read_text(encoding="utf-8").strip() == env_id
    except OSError:
        return False


def python_of(prefix: Path) -> Path:
    """The interpreter of a conda environment."""
    return prefix / "bin" / "python"


@contextlib.contextmanager
def _exclusive_lock(lock_path: Path) -> Iterator[None]:
    with open(lock_path, "a", encoding="utf-8") as handle:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


def materialize(envs_dir: Path, env_id: str, conda_explicit: str, pip_requirements: str) -> Path:
    """Return the prefix of a trusted build of `env_id` under `envs_dir`, building it first if nobody has yet."""
    actual_id = environment_id(conda_explicit, pip_requirements)
    if actual_id != env_id:
        raise InputsRefused(f"the locked files hash to {actual_id}, not to the expected environment id {env_id}")
    link = envs_dir / env_id
    if is_trusted(link, env_id):
        return link
    envs_dir.mkdir(parents=True, exist_ok=True)
    with _exclusive_lock(envs_dir / f"{env_id}.lock"):
        if is_trusted(link, env_id):  # another task finished the build while this one waited
            return link
        _remove_untrusted(envs_dir, env_id)
        installer = find_installer()
        if installer is None:
            raise MaterializeError(
                f"building environment {env_id} needs one of {', '.join(INSTALLERS)} on PATH, and none was found"
            )
        build_dir = envs_dir / f".{env_id}.build-{secrets.token_hex(4)}"
        try:
            _build(installer, build_dir, conda_explicit, pip_requirements, envs_dir)
            (build_dir / MARKER_NAME).write_text(env_id + "\n", encoding="utf-8")
            temporary_link = envs_dir / f".{env_id}.link-{secrets.token_hex(4)}"
            os.symlink(build_dir.name, temporary_link)
            os.replace(temporary_link, link)
        except BaseException:
            shutil.rmtree(build_dir, ignore_errors=True)
            raise
    return link


def _remove_untrusted(envs_dir: Path, env_id: str) -> None:
    """Under the lock: drop what a failed or killed build of `env_id` left behind."""
    link = envs_dir / env_id
    if link.is_symlink():
        link.unlink()
    elif link.exists():
        shutil.rmtree(link)
    for leftover in envs_dir.glob(f".{env_id}.*"):
        if leftover.is_dir() and not leftover.is_symlink():
            shutil.rmtree(leftover, ignore_errors=True)
        else:
            leftover.unlink()


def _build(installer: str, prefix: Path, conda_explicit: str, pip_requirements: str, envs_dir: Path) -> None:
    """Create the environment at `prefix` from the explicit files: no solve, exactly the locked packages."""
    with tempfile.TemporaryDirectory(prefix=".flowkit-build-", dir=envs_dir) as scratch_text:
        scratch = Path(scratch_text)
        explicit_file = scratch / EXPLICIT_FILE
        explicit_file.write_text(conda_explicit, encoding="utf-8")
        # A package cache on the same filesystem lets conda hardlink, and leaving with the scratch directory
        # keeps the shared volume from filling with tarballs.
        installer_env = dict(os.environ, CONDA_PKGS_DIRS=str(scratch / "pkgs"), MAMBA_ROOT_PREFIX=str(scratch / "root"))
        _run([installer, "create", "--yes", "--prefix", str(prefix), "--file", str(explicit_file)], installer_env)
        if canonical_lines(pip_requirements):
            requirements_file = scratch / PIP_FILE
            requirements_file.write_text(pip_requirements, encoding="utf-8")
            pip_install = ["-m", "pip", "install", "--no-deps", "--require-hashes", "--no-cache-dir"]
            _run([str(python_of(prefix)), *pip_install, "-r", str(requirements_file)], installer_env)


def _run(command: list[str], env: dict[str, str]) -> None:
    completed = subprocess.run(command, env=env, stdout=sys.stderr, check=False)
    if completed.returncode != 0:
        raise MaterializeError(f"{' '.join(command[:2])} ... exited with status {completed.returncode}")


def activated_environment(prefix: Path, env_id: str, base: dict[str, str]) -> dict[str, str]:
    """The process environment of a command run inside the built environment."""
    path = f"{prefix / 'bin'}{os.pathsep}{base['PATH']}" if base.get("PATH") else str(prefix / "bin")
    return dict(base, PATH=path, CONDA_PREFIX=str(prefix), FLOWKIT_ENVIRONMENT_ID=env_id)


def exec_in_environment(prefix: Path, env_id: str, command: Sequence[str]) -> None:
    """Replace this process with `command`; a leading `python`/`python3` becomes the environment's interpreter."""
    env = activated_environment(prefix, env_id, dict(os.environ))
    if os.path.basename(command[0]).startswith("python"):
        interpreter = str(python_of(prefix))
        os.execve(interpreter, [interpreter, *command[1:]], env)
    os.execvpe(command[0], list(command), env)


def main(argv: Sequence[str]) -> int:
    """Pod entry point: materialize the environment, then exec the task command in it."""
    arguments = list(argv)
    if "--" not in arguments:
        print("flowkit environment: expected '-- <command>' after the options", file=sys.stderr)
        return 2
    split = arguments.index("--")
    parser = argparse.ArgumentParser(prog="flowkit-environment")
    parser.add_argument("--envs-dir", required=True, type=Path)
    parser.add_argument("--env-id", required=True)
    parser.add_argument("--files-dir", required=True, type=Path)
    options = parser.parse_args(arguments[:split])
    command = arguments[split + 1 :]
    if not command:
        print("flowkit environment: no command after '--'", file=sys.stderr)
        return 2
    try:
        files = read_environment_files(options.files_dir, options.env_id)
        prefix = materialize(options.envs_dir, options.env_id, *files)
    except (MaterializeError, OSError) as error:
        print(f"flowkit environment {options.env_id}: {error}", file=sys.stderr)
        return EXIT_INPUTS_REFUSED if isinstance(error, InputsRefused) else 1
    sys.stdout.flush()
    exec_in_environment(prefix, options.env_id, command)
    return 0  # not reached: exec replaced the process


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
