"""`run --environment conda`: build or reuse a step's locked environment on this machine.

The environment is built by the same code as in pods (`materialize_script.materialize`), under the datastore's
`envs/<env_id>`, from the lockfile's platform of this machine; on linux-64 it has the very id the pods use.
"""

from __future__ import annotations

import platform as host
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from flowkit.environments.declaration import target_for_step
from flowkit.environments.locking import locked_environment
from flowkit.environments.materialize_script import MaterializeError, materialize, python_of
from flowkit.errors import FlowDefinitionError, FlowkitError
from flowkit.settings import resolve_datastore_root

if TYPE_CHECKING:
    from flowkit.specs import StepSpec

_CONDA_PLATFORMS = {
    ("linux", "x86_64"): "linux-64",
    ("linux", "aarch64"): "linux-aarch64",
    ("linux", "ppc64le"): "linux-ppc64le",
    ("darwin", "x86_64"): "osx-64",
    ("darwin", "arm64"): "osx-arm64",
    ("win32", "amd64"): "win-64",
}


@dataclass(frozen=True)
class LocalEnvironment:
    """A built environment: the interpreter to start the step's tasks with, and the id they record."""

    python: Path
    env_id: str


def current_platform() -> str:
    """This machine's conda platform name, e.g. 'linux-64'."""
    key = (sys.platform, host.machine().lower())
    if key not in _CONDA_PLATFORMS:
        raise FlowkitError(f"conda environments are not supported on {sys.platform}/{host.machine()}")
    return _CONDA_PLATFORMS[key]


def ensure_local_environment(
    flow_cls: type, step_spec: StepSpec, *, datastore_root: Path | None = None
) -> LocalEnvironment:
    """Build (once per id) or reuse the step's locked environment under `<datastore root>/envs/`.

    `datastore_root` defaults to the `DATASTORE_ROOT` setting, as for every command.
    """
    flow = flow_cls.__name__
    if step_spec.conda is None:
        raise FlowDefinitionError(
            "declares no @conda environment to run in", flow=flow, step=step_spec.step, decorator="conda"
        )
    environment = locked_environment(target_for_step(flow_cls, step_spec.step), current_platform())
    root = resolve_datastore_root(datastore_root)
    try:
        prefix = materialize(
            root / "envs", environment.env_id, environment.conda_explicit, environment.pip_requirements
        )
    except (MaterializeError, OSError) as error:
        raise FlowkitError(f"{flow}.{step_spec.step}: cannot build its conda environment locally: {error}") from error
    return LocalEnvironment(python=python_of(prefix), env_id=environment.env_id)
