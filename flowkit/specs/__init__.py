"""The model layer's specs: validated decorator keywords and their resolution into one `StepSpec` per step.

`resolve_step_specs` documents the precedence of class-level and step-level decorators. The names are resolved
lazily (PEP 562): the spec models are pydantic models, and a flow without decorators resolves its steps' specs
without importing pydantic at all.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from flowkit import lazy_exports

# public name -> module that defines it
_EXPORTS: dict[str, str] = {
    "ArgoSpec": "flowkit.specs.argo",
    "ScheduleSpec": "flowkit.specs.argo",
    "CatchSpec": "flowkit.specs.catch",
    "CondaSpec": "flowkit.specs.conda",
    "EnvironmentSpec": "flowkit.specs.environment",
    "KubernetesSpec": "flowkit.specs.kubernetes",
    "Toleration": "flowkit.specs.kubernetes",
    "FlowOptions": "flowkit.specs.resolve",
    "StepSpec": "flowkit.specs.resolve",
    "flow_options": "flowkit.specs.resolve",
    "resolve_step_specs": "flowkit.specs.resolve",
    "ProjectSpec": "flowkit.specs.project",
    "ResourcesSpec": "flowkit.specs.resources",
    "RetrySpec": "flowkit.specs.retry",
    "TimeoutSpec": "flowkit.specs.timeout",
}

__all__ = [
    "ArgoSpec",
    "CatchSpec",
    "CondaSpec",
    "EnvironmentSpec",
    "FlowOptions",
    "KubernetesSpec",
    "ProjectSpec",
    "ResourcesSpec",
    "RetrySpec",
    "ScheduleSpec",
    "StepSpec",
    "TimeoutSpec",
    "Toleration",
    "flow_options",
    "resolve_step_specs",
]

if TYPE_CHECKING:
    from flowkit.specs.argo import ArgoSpec, ScheduleSpec
    from flowkit.specs.catch import CatchSpec
    from flowkit.specs.conda import CondaSpec
    from flowkit.specs.environment import EnvironmentSpec
    from flowkit.specs.kubernetes import KubernetesSpec, Toleration
    from flowkit.specs.project import ProjectSpec
    from flowkit.specs.resolve import FlowOptions, StepSpec, flow_options, resolve_step_specs
    from flowkit.specs.resources import ResourcesSpec
    from flowkit.specs.retry import RetrySpec
    from flowkit.specs.timeout import TimeoutSpec


__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS, __all__)
