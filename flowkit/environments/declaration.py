"""From the resolved `@conda` specs of a flow to the environments it declares and their lock inputs.

Steps whose resolved declarations are equal share one environment and one lockfile. The lockfile of the
environment `start` runs in (or of the only environment there is) is `conda-lock.yml` beside the flow's file; any
other environment is locked into `conda-lock.<first step>.yml`, so a step that declares its own packages never
changes the lock of the others.

What conda-lock solves is not exactly what the user wrote: flowkit's runtime dependencies (pydantic) are added,
because every task imports flowkit inside the environment. The sha256 of that generated source is the declaration
hash `env check` compares, so a changed declaration, environment file or runtime requirement makes the lock stale.
"""

from __future__ import annotations

import hashlib
import inspect
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from flowkit.errors import FlowDefinitionError, FlowkitError
from flowkit.specs import resolve_step_specs
from flowkit.specs.conda import CondaSpec

DEFAULT_LOCKFILE_NAME = "conda-lock.yml"
DEFAULT_PYTHON = "3.10"
#: Added to every environment: what a task needs to import flowkit (cloudpickle travels in the code package).
RUNTIME_REQUIREMENTS = {"pydantic": ">=2.6"}
_VERSION_OPERATORS = ("<", ">", "=", "!", "~")
_REQUIREMENT_NAME = re.compile(r"^\s*(?:[\w.-]+::)?([A-Za-z0-9_.-]+)")


@dataclass(frozen=True)
class EnvironmentTarget:
    """One distinct environment of a flow: its declaration, the steps that run in it, and its lockfile."""

    flow_name: str
    steps: tuple[str, ...]
    spec: CondaSpec
    flow_dir: Path
    lockfile_path: Path

    @property
    def step(self) -> str:
        """The step named in error messages: the first one that runs in this environment."""
        return self.steps[0]


def flow_directory(flow_cls: type) -> Path:
    """The directory of the flow's source file, where environment files and lockfiles live."""
    try:
        source = inspect.getsourcefile(flow_cls)
    except TypeError:
        source = None
    if source is None:
        raise FlowkitError(f"{flow_cls.__name__} has no source file, so it has no place for its environment files")
    return Path(source).resolve().parent


def environment_targets(flow_cls: type) -> list[EnvironmentTarget]:
    """Every distinct environment the flow's steps declare, the one `start` runs in first."""
    groups: dict[str, tuple[CondaSpec, list[str]]] = {}
    for step_name, step_spec in resolve_step_specs(flow_cls).items():
        if step_spec.conda is not None:
            key = _lock_key(step_spec.conda)
            groups.setdefault(key, (step_spec.conda, []))[1].append(step_name)
    ordered = sorted(groups.values(), key=lambda group: "start" not in group[1])
    flow_dir = flow_directory(flow_cls)
    targets = []
    for position, (spec, steps) in enumerate(ordered):
        shares_default = position == 0 and ("start" in steps or len(ordered) == 1)
        name = DEFAULT_LOCKFILE_NAME if shares_default else f"conda-lock.{steps[0]}.yml"
        targets.append(EnvironmentTarget(flow_cls.__name__, tuple(steps), spec, flow_dir, flow_dir / name))
    return targets


def target_for_step(flow_cls: type, step: str) -> EnvironmentTarget:
    """The environment `step` runs in; an error when the step declares none or does not exist."""
    for target in environment_targets(flow_cls):
        if step in target.steps:
            return target
    if step not in resolve_step_specs(flow_cls):
        raise FlowDefinitionError(f"has no step {step!r}", flow=flow_cls.__name__)
    raise FlowDefinitionError("declares no @conda environment", flow=flow_cls.__name__, step=step, decorator="conda")


def selected_targets(flow_cls: type, step: str | None = None) -> list[EnvironmentTarget]:
    """The environment of `step`, or every environment of the flow; an error when there is none."""
    if step is not None:
        return [target_for_step(flow_cls, step)]
    targets = environment_targets(flow_cls)
    if not targets:
        raise FlowDefinitionError("declares no @conda environment on the class or any step", flow=flow_cls.__name__)
    return targets


def default_target(flow_cls: type, step: str | None = None) -> EnvironmentTarget:
    """The environment of `step`, or without a step the flow's main environment (the one in conda-lock.yml)."""
    return selected_targets(flow_cls, step)[0]


def lock_source(target: EnvironmentTarget) -> dict[str, Any]:
    """The environment.yml document conda-lock solves for this target (runtime requirements included)."""
    spec = target.spec
    if spec.file is not None:
        document = _read_environment_file(target)
    else:
        conda_dependencies: list[Any] = [f"python={spec.python or DEFAULT_PYTHON}"]
        conda_dependencies += [_match_spec(name, version) for name, version in spec.packages.items()]
        if spec.pip:
            conda_dependencies += ["pip", {"pip": list(spec.pip)}]
        document = {"channels": list(spec.channels), "dependencies": conda_dependencies}
    declared = {_requirement_name(dependency) for dependency in document["dependencies"] if isinstance(dependency, str)}
    for name, version in RUNTIME_REQUIREMENTS.items():
        if name not in declared:
            document["dependencies"].append(_match_spec(name, version))
    return document


def declaration_hash(source: dict[str, Any]) -> str:
    """sha256 of the canonical lock source: equal for equal declarations, whatever their formatting."""
    canonical = json.dumps(source, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def _lock_key(spec: CondaSpec) -> str:
    """What decides the lock: equal keys share a lockfile (materialize and image_repository do not change it)."""
    return json.dumps(
        spec.model_dump(include={"file", "python", "packages", "channels", "pip", "platforms"}), sort_keys=True
    )


def _read_environment_file(target: EnvironmentTarget) -> dict[str, Any]:
    path = target.flow_dir / str(target.spec.file)
    if not path.is_file():
        raise _file_error(target, f"environment file {path} does not exist")
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as error:
        raise _file_error(target, f"{path} is not valid YAML: {error}") from error
    if not isinstance(document, dict) or not isinstance(document.get("dependencies"), list):
        raise _file_error(target, f"{path} is not a conda environment file (it needs a 'dependencies' list)")
    document.pop("name", None)  # the environment's name does not change what gets installed
    return document


def _file_error(target: EnvironmentTarget, message: str) -> FlowDefinitionError:
    return FlowDefinitionError(message, flow=target.flow_name, step=target.step, decorator="conda", field="file")


def _match_spec(name: str, version: str) -> str:
    """A conda match spec: `numpy=1.26.*` for a bare version, `numpy>=1.26` for a constraint, `numpy` for any."""
    if not version:
        return name
    return f"{name}{version}" if version.startswith(_VERSION_OPERATORS) else f"{name}={version}"


def _requirement_name(requirement: str) -> str:
    match = _REQUIREMENT_NAME.match(requirement)
    return match.group(1).lower() if match else requirement.lower()
