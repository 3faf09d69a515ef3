"""`@conda`: the declared, lockable environment of a flow (class level) or of one step (step level).

An environment is declared either by pointing at an `environment.yml` beside the flow (`file=`) or inline
(`python=`, `packages=`, `channels=`, `pip=`), never both: two sources of truth for one environment would let the lock
drift from what the user reads. A step-level `@conda` overrides exactly the fields it sets, so a step that switches a
file-declared flow to an inline environment says `file=None` explicitly.

Only the declaration is validated here; locking, the environment id and materialization live in
`flowkit.environments`. A declaration that names no packages at all is legal at this level (a step may override only
`materialize=`); the environments layer rejects it when it has to lock it.
"""

from __future__ import annotations

import re
from pathlib import PurePosixPath, PureWindowsPath
from typing import Literal

from pydantic import AliasChoices, Field, ValidationInfo, field_validator

from flowkit.specs.base import SpecModel

#: Platforms conda-lock can solve for and conda can install on.
SUPPORTED_PLATFORMS: tuple[str, ...] = (
    "linux-64",
    "linux-aarch64",
    "linux-ppc64le",
    "osx-64",
    "osx-arm64",
    "win-64",
)

_PYTHON_VERSION = re.compile(r"^3(\.\d+){1,2}(\.\*)?$")
_CONDA_PACKAGE_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9._-]*$")
_VERSION_SPEC = re.compile(r"^[^\s]*$")
_CHANNEL = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9._/:-]*$")
# registry host (optional, may carry a port) + lowercase path components, no tag or digest
_IMAGE_REPOSITORY = re.compile(
    r"^(?:[A-Za-z0-9.-]+(?::\d+)?/)?[a-z0-9]+(?:[._-][a-z0-9]+)*(?:/[a-z0-9]+(?:[._-][a-z0-9]+)*)*$"
)


class CondaSpec(SpecModel):
    """A conda environment declaration, as written in `@conda(...)`."""

    file: str | None = Field(
        default=None,
        description="environment.yml path relative to the flow's file; excludes the inline fields",
    )
    python: str | None = Field(default=None, description="Python version of an inline environment, e.g. '3.10'")
    packages: dict[str, str] = Field(
        default_factory=dict,
        description="conda package name -> version spec ('' for any version); Metaflow's `libraries=` too",
        validation_alias=AliasChoices("packages", "libraries"),
    )
    channels: list[str] = Field(default_factory=lambda: ["conda-forge"], description="conda channels, in priority")
    pip: list[str] = Field(default_factory=list, description="pip requirement strings, e.g. 'requests==2.31.0'")
    platforms: list[str] = Field(default_factory=lambda: ["linux-64"], description="platforms to lock for")
    materialize: Literal["image", "pvc"] = Field(
        default="image",
        description="'image': pods run the id-tagged image; 'pvc': pods build the environment once on the PVC",
    )
    image_repository: str = Field(
        default="flowkit-env", description="repository of the environment image; its tag is derived from the env id"
    )
    disabled: bool = Field(
        default=False,
        description="True: no environment, the step runs on the Python that runs the flow (Metaflow's keyword; a "
        "step's @conda(disabled=True) opts out of the flow's @conda_base)",
    )

    @field_validator("file")
    @classmethod
    def _file_is_relative(cls, value: str | None) -> str | None:
        if value is None:
            return None
        if not value.strip():
            raise ValueError("must be a non-empty path to an environment.yml")
        if PurePosixPath(value).is_absolute() or PureWindowsPath(value).is_absolute():
            raise ValueError(f"{value!r} must be relative to the flow's file, so the flow is portable")
        if ".." in PurePosixPath(value.replace("\\", "/")).parts:
            raise ValueError(f"{value!r} must stay inside the flow's directory (no '..')")
        if not value.endswith((".yml", ".yaml")):
            raise ValueError(f"{value!r} must be a conda environment file ending in .yml or .yaml")
        return value

    @field_validator("python", "packages", "channels", "pip")
    @classmethod
    def _inline_excludes_file(cls, value: object, info: ValidationInfo) -> object:
        # `file` is declared first, so it has already been validated into info.data when the inline fields arrive.
        if info.data.get("file") is not None:
            raise ValueError(
                f"cannot be combined with file={info.data['file']!r}: declare the environment either in the file or "
                "inline (a step overriding a file-declared flow passes file=None)"
            )
        return value

    @field_validator("python")
    @classmethod
    def _python_version(cls, value: str | None) -> str | None:
        if value is not None and not _PYTHON_VERSION.match(value):
            raise ValueError(f"{value!r} is not a Python 3 version such as '3.10' or '3.10.14'")
        return value

    @field_validator("packages")
    @classmethod
    def _package_specs(cls, value: dict[str, str]) -> dict[str, str]:
        for name, version in value.items():
            if not _CONDA_PACKAGE_NAME.match(name):
                raise ValueError(f"{name!r} is not a conda package name")
            if name.lower() == "python":
                raise ValueError("declare the Python version with python=, not as a package")
            if not _VERSION_SPEC.match(version):
                raise ValueError(f"version of {name!r} must not contain whitespace, got {version!r}")
        return value

    @field_validator("channels")
    @classmethod
    def _channel_names(cls, value: list[str]) -> list[str]:
        if not value:
            raise ValueError("needs at least one channel, e.g. ['conda-forge']")
        for channel in value:
            if not _CHANNEL.match(channel):
                raise ValueError(f"{channel!r} is not a conda channel name or URL")
        return value

    @field_validator("pip")
    @classmethod
    def _pip_requirements(cls, value: list[str]) -> list[str]:
        for requirement in value:
            if not requirement.strip() or requirement.lstrip().startswith("-"):
                raise ValueError(f"{requirement!r} must be a requirement such as 'requests==2.31.0', not an option")
        return value

    @field_validator("platforms")
    @classmethod
    def _known_platforms(cls, value: list[str]) -> list[str]:
        if not value:
            raise ValueError("needs at least one platform, e.g. ['linux-64']")
        unknown = [platform for platform in value if platform not in SUPPORTED_PLATFORMS]
        if unknown:
            raise ValueError(f"unknown platform(s) {unknown}; choose from {list(SUPPORTED_PLATFORMS)}")
        if len(set(value)) != len(value):
            raise ValueError(f"lists a platform twice: {value}")
        return value

    @field_validator("image_repository")
    @classmethod
    def _image_repository(cls, value: str) -> str:
        if not _IMAGE_REPOSITORY.match(value):
            raise ValueError(
                f"{value!r} is not an image repository such as 'ghcr.io/acme/flowkit-env' "
                "(no tag: the tag is derived from the environment id)"
            )
        return value
