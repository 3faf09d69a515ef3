"""The model layer's specs: validated decorator keywords and their resolution into one `StepSpec` per step.

`resolve_step_specs` documents the precedence of class-level and step-level decorators.
"""

from __future__ import annotations

from flowkit.specs.argo import ArgoSpec, ScheduleSpec
from flowkit.specs.catch import CatchSpec
from flowkit.specs.conda import CondaSpec
from flowkit.specs.environment import EnvironmentSpec
from flowkit.specs.kubernetes import KubernetesSpec, Toleration
from flowkit.specs.resolve import FlowOptions, StepSpec, flow_options, resolve_step_specs
from flowkit.specs.resources import ResourcesSpec
from flowkit.specs.retry import RetrySpec
from flowkit.specs.timeout import TimeoutSpec

__all__ = [
    "ArgoSpec",
    "CatchSpec",
    "CondaSpec",
    "EnvironmentSpec",
    "FlowOptions",
    "KubernetesSpec",
    "ResourcesSpec",
    "RetrySpec",
    "ScheduleSpec",
    "StepSpec",
    "TimeoutSpec",
    "Toleration",
    "flow_options",
    "resolve_step_specs",
]
