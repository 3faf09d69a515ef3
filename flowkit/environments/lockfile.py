"""Reading conda-lock lockfiles and rendering one platform of them into explicit, solve-free install files.

Everything goes through conda-lock's own API (`parse_conda_lock_file`, `render_lockfile_for_platform(kind=
"explicit")`) so flowkit reads lockfiles exactly as `conda-lock install` does. conda-lock is an optional extra, imported
only here and in `locking`, and only inside the functions that need it.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any

from flowkit.environments.declaration import RUNTIME_REQUIREMENTS
from flowkit.environments.env_id import environment_id
from flowkit.errors import FlowDefinitionError, FlowkitError

if TYPE_CHECKING:
    from conda_lock.lockfile.v2prelim.models import Lockfile

INSTALL_HINT = "pip install 'flowkit[conda]'"
MINIMUM_PYTHON = (3, 10)
_PIP_LINE_PREFIX = "# pip "


def import_conda_lock(module: str = "conda_lock.conda_lock") -> ModuleType:
    """Import a conda-lock module, or explain how to install the optional extra."""
    try:
        return importlib.import_module(module)
    except ImportError as error:
        raise FlowkitError(f"this command needs conda-lock, which is not installed: {INSTALL_HINT}") from error


@dataclass(frozen=True)
class LockedPackage:
    """One package of one platform of a lockfile, as `env show` lists it."""

    name: str
    version: str
    manager: str
    url: str


@dataclass(frozen=True)
class RenderedEnvironment:
    """One platform of a lockfile rendered into the two files an installer consumes without solving."""

    platform: str
    conda_explicit: str
    pip_requirements: str

    @cached_property
    def env_id(self) -> str:
        """The environment id: sha256 of the canonical conda and pip parts."""
        return environment_id(self.conda_explicit, self.pip_requirements)


def read_lockfile(path: Path) -> Lockfile:
    """Parse a conda-lock.yml (v1 or v2) with conda-lock's parser."""
    parser = import_conda_lock("conda_lock.lockfile")
    if not path.is_file():
        raise FlowkitError(f"no lockfile at {path}: create it with `python <flow file> env lock`")
    try:
        lockfile: Lockfile = parser.parse_conda_lock_file(path)
    except Exception as error:  # conda-lock raises YAML, pydantic and its own errors for a bad file
        raise FlowkitError(f"{path} is not a conda-lock lockfile: {error}") from error
    return lockfile


def locked_packages(lockfile: Lockfile) -> dict[str, list[LockedPackage]]:
    """The lockfile's packages per platform, sorted by name; platforms with no package are listed empty."""
    per_platform: dict[str, list[LockedPackage]] = {platform: [] for platform in lockfile.metadata.platforms}
    for package in lockfile.package:
        per_platform.setdefault(package.platform, []).append(
            LockedPackage(package.name, package.version, package.manager, package.url)
        )
    return {platform: sorted(packages, key=lambda p: p.name) for platform, packages in sorted(per_platform.items())}


def render_environment(lockfile: Lockfile, platform: str, *, flow: str, step: str | None) -> RenderedEnvironment:
    """Render `platform` of `lockfile` as an explicit conda file and a hashed pip requirements file.

    conda-lock renders a platform that is not in the lockfile as an empty environment without complaint, which
    would make a pod run with no packages at all; here that is an error naming the flow, the step and the platform.
    """
    packages = locked_packages(lockfile)
    if not packages.get(platform):
        locked = ", ".join(name for name, found in packages.items() if found) or "none"
        raise FlowDefinitionError(
            f"the lockfile has no packages for platform {platform!r} (locked: {locked}); "
            f"lock it with `env lock --platform {platform}`",
            flow=flow,
            step=step,
            decorator="conda",
            field="platforms",
        )
    _check_runtime_requirements(packages[platform], platform, flow=flow, step=step)
    lines: list[str] = import_conda_lock().render_lockfile_for_platform(
        lockfile=lockfile,
        include_dev_dependencies=False,
        extras=None,
        kind="explicit",
        platform=platform,
        suppress_warning_for_pip_and_explicit=True,
    )
    pip_lines = [line[len(_PIP_LINE_PREFIX) :] for line in lines if line.startswith(_PIP_LINE_PREFIX)]
    conda_lines = [line for line in lines if not line.startswith(_PIP_LINE_PREFIX) and "input_hash:" not in line]
    return RenderedEnvironment(
        platform=platform,
        conda_explicit="\n".join(conda_lines) + "\n",
        pip_requirements="".join(line + "\n" for line in pip_lines),
    )


def _check_runtime_requirements(packages: list[LockedPackage], platform: str, *, flow: str, step: str | None) -> None:
    """A task imports flowkit inside the environment, so it needs Python >= 3.10 and flowkit's runtime packages."""
    names = {package.name.lower(): package for package in packages}
    problems = [f"it lacks flowkit's runtime dependency {name!r}" for name in RUNTIME_REQUIREMENTS if name not in names]
    python = names.get("python")
    if python is None:
        problems.append("it locks no python")
    elif _version_tuple(python.version) < MINIMUM_PYTHON:
        problems.append(f"it locks python {python.version}, flowkit needs {'.'.join(map(str, MINIMUM_PYTHON))}+")
    if problems:
        raise FlowDefinitionError(
            f"the locked environment for {platform} cannot run flowkit tasks: {'; '.join(problems)} "
            "(re-run `env lock`, which adds them)",
            flow=flow,
            step=step,
            decorator="conda",
        )


def _version_tuple(version: str) -> tuple[int, ...]:
    parts: list[int] = []
    for part in version.split(".")[:2]:
        digits = "".join(char for char in part if char.isdigit())
        parts.append(int(digits or 0))
    return tuple(parts)


def lockfile_metadata(lockfile: Lockfile) -> dict[str, Any]:
    """The custom metadata flowkit stored in the lockfile (declaration hashes), empty when there is none."""
    return dict(lockfile.metadata.custom_metadata or {})
