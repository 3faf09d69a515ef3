"""What one step's pod needs, reduced to the parts that differ between steps.

A flow of 1,000 steps usually has a handful of distinct pod specs. Each step is reduced to a `PodPlan` (its
resolved spec, its environment, and the role flags that change its command line) and steps with equal plans share
ONE container template; the step name and foreach index path reach the pod as template inputs. Everything that
varies per task is therefore a parameter, never a copy of the template.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, fields
from typing import TYPE_CHECKING, Any

from flowkit.compiler.names import short_hash

if TYPE_CHECKING:
    from collections.abc import Mapping

    from flowkit.environments import PodEnvironmentPlan
    from flowkit.specs import StepSpec
    from flowkit.specs.kubernetes import KubernetesSpec
    from flowkit.specs.retry import RetrySpec
    from flowkit.specs.timeout import TimeoutSpec


@dataclass(frozen=True)
class TaskRole:
    """The parts of a task's command line that depend on where the step sits in the graph."""

    passes_parameters: bool = False
    """The start step receives the flow parameters as ``--param NAME=<json>``."""
    writes_splits: bool = False
    """A foreach step writes the JSON list of split indices for Argo's ``withParam``."""
    writes_branch: bool = False
    """A switch step writes the name of the branch it took, which the ``when`` of the tasks after it read."""
    exit_handler: bool = False
    """The onExit step learns the workflow's final status."""

    @property
    def prefix(self) -> str:
        """Start of the template name, so a reader of the YAML sees what a template is for."""
        if self.exit_handler:
            return "exit"
        if self.writes_splits:
            return "foreach"
        if self.writes_branch:
            return "switch"
        return "start" if self.passes_parameters else "task"


@dataclass(frozen=True, eq=False)
class PodPlan:
    """One distinct container template: equal plans (by `key`) compile to the same template."""

    kubernetes: KubernetesSpec
    retry: RetrySpec
    timeout: TimeoutSpec | None
    environment_vars: dict[str, str]
    environment: PodEnvironmentPlan
    role: TaskRole
    key: str = field(default="", init=False)

    def __post_init__(self) -> None:
        # The environment's files follow from the id its command wrapper names: left out, they cost nothing to
        # serialize per step, and the template names of flows without a PVC-built environment stay stable.
        environment = {f.name: getattr(self.environment, f.name) for f in fields(self.environment) if f.name != "files"}
        canonical: dict[str, Any] = {
            "kubernetes": self.kubernetes.model_dump(mode="json"),
            "retry": self.retry.model_dump(mode="json"),
            "timeout": None if self.timeout is None else self.timeout.total_seconds,
            "vars": self.environment_vars,
            "environment": environment,
            # writes_branch is listed only when set, so the templates of flows without a switch keep their names.
            "role": [self.role.passes_parameters, self.role.writes_splits, self.role.exit_handler]
            + ([self.role.writes_branch] if self.role.writes_branch else []),
        }
        object.__setattr__(self, "key", json.dumps(canonical, sort_keys=True))

    @property
    def template_name(self) -> str:
        """Deterministic, readable and unique per distinct plan."""
        return f"{self.role.prefix}-{short_hash(self.key)}"

    @property
    def image(self) -> str | None:
        """The environment layer's choice (it honours an explicit @kubernetes image), else the @kubernetes image."""
        return self.environment.image or self.kubernetes.image

    @property
    def env(self) -> dict[str, str]:
        """@kubernetes env, then @environment vars, then what the environment needs (which must win)."""
        return {**self.kubernetes.env, **self.environment_vars, **self.environment.env}

    @property
    def labels(self) -> dict[str, str]:
        return {**self.kubernetes.labels, **self.environment.labels}

    @property
    def annotations(self) -> dict[str, str]:
        return {**self.kubernetes.annotations, **self.environment.annotations}


def plan_pod(
    step_spec: StepSpec,
    environment: PodEnvironmentPlan,
    role: TaskRole,
    *,
    run_environment: Mapping[str, str] | None = None,
) -> PodPlan:
    """Reduce a resolved step spec to the plan its container template is built from.

    `run_environment` holds the variables every pod of the workflow gets; the step's `@environment` overrides them.
    """
    return PodPlan(
        kubernetes=step_spec.kubernetes,
        retry=step_spec.retry,
        timeout=step_spec.timeout,
        environment_vars={**(run_environment or {}), **step_spec.environment_vars},
        environment=environment,
        role=role,
    )
