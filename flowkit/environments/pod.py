"""`plan_pod_environment`: what a step's `@conda` environment changes in its pod.

Which image a conda step's pod runs:
- an image set explicitly with `@kubernetes(image=...)` always wins (the user vouches that it holds the environment,
  or, with `materialize="pvc"`, that it has python3 and micromamba or conda);
- otherwise `materialize="image"` runs `<image_repository>:<environment id>`, the image `image` builds;
- otherwise `materialize="pvc"` runs the stock Miniconda base image and wraps the task command so the environment is
  built once on the PVC and the task runs with its Python; the pod mounts the environment's explicit files from their
  own ConfigMap (`PodEnvironmentPlan.files`).
Every conda task gets the id in the variable of the `ENVIRONMENT_ID` setting (which the executor records): an image
pod as a container variable, a PVC pod from the materializer, which exports the id it verified the files against (a
second copy in the pod spec would only add to the template). Every conda pod carries the id as an annotation, and
(shortened to fit) as a label.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from flowkit.environments.declaration import EnvironmentTarget, environment_targets, target_for_step
from flowkit.environments.dockerfile import DEFAULT_BASE_IMAGE
from flowkit.environments.env_id import (
    ENVIRONMENT_ID_ANNOTATION,
    ENVIRONMENT_ID_LABEL,
    image_reference,
    short_id,
)
from flowkit.environments.locking import locked_environment
from flowkit.environments.materialize import environment_files, materialize_command
from flowkit.errors import FlowDefinitionError
from flowkit.settings import ENVIRONMENT_ID

if TYPE_CHECKING:
    from flowkit.environments.lockfile import RenderedEnvironment
    from flowkit.pod_files import PodFiles
    from flowkit.specs import StepSpec
    from flowkit.specs.conda import CondaSpec


@dataclass(frozen=True)
class PodEnvironmentPlan:
    """The image, command prefix, variables and metadata a step's environment asks of its pod."""

    image: str | None = None
    command_wrapper: list[str] = field(default_factory=list)
    env: dict[str, str] = field(default_factory=dict)
    labels: dict[str, str] = field(default_factory=dict)
    annotations: dict[str, str] = field(default_factory=dict)
    environment_id: str | None = None
    files: PodFiles | None = None
    """What the command wrapper reads (the environment's explicit files), for the compiler to emit and mount."""


def plan_pod_environment(
    step_spec: StepSpec, flow_cls: type, *, datastore_mount: str, scripts_dir: str
) -> PodEnvironmentPlan:
    """The environment part of the pod of `step_spec`'s tasks; an empty plan for a step without `@conda`.

    ``scripts_dir`` is where the pod mounts the scripts that run before flowkit is importable, the materializer's
    among them.
    """
    plans = plan_pod_environments(
        flow_cls, {step_spec.step: step_spec}, datastore_mount=datastore_mount, scripts_dir=scripts_dir
    )
    return plans[step_spec.step]


def plan_pod_environments(
    flow_cls: type, step_specs: Mapping[str, StepSpec], *, datastore_mount: str, scripts_dir: str
) -> dict[str, PodEnvironmentPlan]:
    """`plan_pod_environment` of every step of ``step_specs``, finding the flow's environments and reading each
    lockfile once: per step, a flow of 1,000 steps in one environment took seconds to compile."""
    targets: dict[str, EnvironmentTarget] = {}
    locked: dict[tuple[Path, str], RenderedEnvironment] = {}
    plans: dict[str, PodEnvironmentPlan] = {}
    for step, step_spec in step_specs.items():
        conda = step_spec.conda
        if conda is None:
            plans[step] = PodEnvironmentPlan()
            continue
        if not targets:  # a flow without environments may have no source file to find them beside
            targets = {name: target for target in environment_targets(flow_cls) for name in target.steps}
        target = targets.get(step) or target_for_step(flow_cls, step)
        platform = pod_platform(conda, flow=flow_cls.__name__, step=step)
        if (target.lockfile_path, platform) not in locked:
            locked[target.lockfile_path, platform] = locked_environment(target, platform)
        environment = locked[target.lockfile_path, platform]
        plans[step] = _step_plan(
            step_spec, conda, environment, datastore_mount=datastore_mount, scripts_dir=scripts_dir
        )
    return plans


def _step_plan(
    step_spec: StepSpec,
    conda: CondaSpec,
    environment: RenderedEnvironment,
    *,
    datastore_mount: str,
    scripts_dir: str,
) -> PodEnvironmentPlan:
    env_id = environment.env_id
    explicit_image = step_spec.kubernetes.image
    files = None
    if conda.materialize == "pvc":
        image = explicit_image or DEFAULT_BASE_IMAGE
        wrapper = materialize_command(environment, datastore_mount, scripts_dir=scripts_dir)
        files = environment_files(environment)
        env = {}
    else:
        image = explicit_image or image_reference(conda.image_repository, env_id)
        wrapper = []
        env = {ENVIRONMENT_ID.env_var: env_id}
    return PodEnvironmentPlan(
        image=image,
        command_wrapper=wrapper,
        env=env,
        labels={ENVIRONMENT_ID_LABEL: short_id(env_id)},
        annotations={ENVIRONMENT_ID_ANNOTATION: env_id},
        environment_id=env_id,
        files=files,
    )


def pod_platform(conda: CondaSpec, *, flow: str, step: str) -> str:
    """The platform pods run: the first Linux platform the declaration locks."""
    for platform in conda.platforms:
        if platform.startswith("linux-"):
            return platform
    raise FlowDefinitionError(
        f"pods run Linux, but only {conda.platforms} are declared: add 'linux-64'",
        flow=flow,
        step=step,
        decorator="conda",
        field="platforms",
    )
