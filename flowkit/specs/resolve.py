"""Resolution: from the decorators on a flow class to one `StepSpec` per step and the flow's `FlowOptions`.

Precedence, from weakest to strongest:

1. the model defaults (no decorator: no retries, no timeout, no pod settings beyond the compiler's);
2. class-level decorators of base classes, then of the class itself (the MRO, base first): each later class
   overrides exactly the fields its decorator sets;
3. the class-level decorator of the flow: the default of EVERY step, `start` and `end` included;
4. a step-level decorator: overrides exactly the fields it sets (pydantic's `model_fields_set`). A field is replaced
   as a whole, never merged into: a step's `pvc={...}` replaces the class's claims, its `env={...}` the class's
   variables. `@timeout` is the exception: its fields are parts of one duration, so a step's `@timeout` replaces
   the default timeout entirely.

Finally `@resources` and `@kubernetes` combine: `cpu`, `memory` and `gpu` each take the larger of the two
(quantities are compared numerically, "1Gi" > "1000Mi"), as in Metaflow. The merged specs are validated again, so a
combination that no single decorator shows (a class `@conda(file=...)` with a step `@conda(python=...)`) fails
as a `FlowDefinitionError` naming the step.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, NamedTuple, TypeVar

from pydantic import Field

from flowkit.authoring.step import declared_class_specs, declared_step_specs, find_steps
from flowkit.specs.argo import ArgoSpec, ScheduleSpec
from flowkit.specs.base import SpecModel
from flowkit.specs.catch import CatchSpec
from flowkit.specs.conda import CondaSpec
from flowkit.specs.environment import EnvironmentSpec
from flowkit.specs.kubernetes import KubernetesSpec
from flowkit.specs.quantity import larger_quantity
from flowkit.specs.resources import ResourcesSpec
from flowkit.specs.retry import RetrySpec
from flowkit.specs.timeout import TimeoutSpec
from flowkit.specs.validation import validate_spec

_Spec = TypeVar("_Spec", bound=SpecModel)

RESOLVED_SPECS_ATTR = "__flowkit_step_specs__"
"""Cache of `resolve_step_specs` in the flow class's own ``__dict__`` (travels with a class pickled by value)."""


class StepSpec(SpecModel):
    """Everything the schedulers need to know about how one step's tasks run."""

    step: str
    kubernetes: KubernetesSpec = Field(default_factory=KubernetesSpec)
    retry: RetrySpec = Field(default_factory=lambda: RetrySpec(times=0))
    timeout: TimeoutSpec | None = None
    environment_vars: dict[str, str] = Field(default_factory=dict)
    catch: CatchSpec | None = None
    conda: CondaSpec | None = None


class FlowOptions(NamedTuple):
    """Flow-wide options from the class-level-only decorators."""

    argo: ArgoSpec
    schedule: ScheduleSpec | None


def merge_specs(
    default: SpecModel | None, override: SpecModel, *, flow: str, step: str | None, decorator: str
) -> SpecModel:
    """`override` on top of `default`: the fields `override` sets win, the others keep `default`'s values."""
    if default is None:
        return override
    if getattr(type(override), "merge_as_whole", False):
        return override
    fields = _set_fields(default)
    fields.update(_set_fields(override))
    return validate_spec(type(override), fields, flow=flow, step=step, decorator=decorator)


def class_level_specs(flow_cls: type) -> dict[str, SpecModel]:
    """The class-level spec of each decorator, inherited along the MRO (a subclass overrides its bases' fields)."""
    merged: dict[str, SpecModel] = {}
    for klass in reversed(flow_cls.__mro__):
        for decorator, spec in declared_class_specs(klass).items():
            merged[decorator] = merge_specs(
                merged.get(decorator), spec, flow=flow_cls.__name__, step=None, decorator=decorator
            )
    return merged


def flow_options(flow_cls: type) -> FlowOptions:
    """The flow's `@argo` options (defaults when absent) and its `@schedule`, if any."""
    specs = class_level_specs(flow_cls)
    argo = specs.get("argo")
    schedule = specs.get("schedule")
    return FlowOptions(
        argo=argo if isinstance(argo, ArgoSpec) else ArgoSpec(),
        schedule=schedule if isinstance(schedule, ScheduleSpec) else None,
    )


def resolve_step_specs(flow_cls: type) -> dict[str, StepSpec]:
    """The resolved spec of every step of `flow_cls` (see the module docstring for the precedence).

    Cached in the class's own ``__dict__``; a class-level decorator applied later clears the cache.
    """
    cached: dict[str, StepSpec] | None = vars(flow_cls).get(RESOLVED_SPECS_ATTR)
    if cached is not None:
        return cached
    defaults = class_level_specs(flow_cls)
    resolved = {}
    for name, function in find_steps(flow_cls).items():
        merged = dict(defaults)
        for decorator, spec in declared_step_specs(function).items():
            merged[decorator] = merge_specs(
                defaults.get(decorator), spec, flow=flow_cls.__name__, step=name, decorator=decorator
            )
        resolved[name] = _step_spec(flow_cls.__name__, name, merged, lineno=function.__code__.co_firstlineno)
    setattr(flow_cls, RESOLVED_SPECS_ATTR, resolved)
    return resolved


def _step_spec(flow: str, step: str, specs: Mapping[str, SpecModel], *, lineno: int) -> StepSpec:
    """Assemble one step's `StepSpec` from its merged per-decorator specs."""
    kubernetes = specs.get("kubernetes")
    kubernetes = kubernetes if isinstance(kubernetes, KubernetesSpec) else KubernetesSpec()
    resources = specs.get("resources")
    if isinstance(resources, ResourcesSpec):
        kubernetes = _with_resources(kubernetes, resources, flow=flow, step=step, lineno=lineno)
    environment = specs.get("environment")
    retry = specs.get("retry")
    return StepSpec(
        step=step,
        kubernetes=kubernetes,
        retry=retry if isinstance(retry, RetrySpec) else RetrySpec(times=0),
        timeout=_of_type(specs.get("timeout"), TimeoutSpec),
        environment_vars=environment.vars if isinstance(environment, EnvironmentSpec) else {},
        catch=_of_type(specs.get("catch"), CatchSpec),
        conda=_of_type(specs.get("conda"), CondaSpec),
    )


def _with_resources(
    kubernetes: KubernetesSpec, resources: ResourcesSpec, *, flow: str, step: str, lineno: int
) -> KubernetesSpec:
    """`kubernetes` with cpu, memory and gpu raised to what `@resources` asks for."""
    fields = _set_fields(kubernetes)
    combined: dict[str, Any] = {
        "cpu": larger_quantity(kubernetes.cpu, resources.cpu),
        "memory": larger_quantity(kubernetes.memory, resources.memory),
        "gpu": None if resources.gpu is None else max(kubernetes.gpu, resources.gpu),
    }
    fields.update({name: value for name, value in combined.items() if value is not None})
    return validate_spec(KubernetesSpec, fields, flow=flow, step=step, decorator="kubernetes", lineno=lineno)


def _set_fields(spec: SpecModel) -> dict[str, Any]:
    """The fields a spec's author wrote, by canonical name (aliases such as `persistent_volume_claims` folded)."""
    return {name: getattr(spec, name) for name in spec.model_fields_set}


def _of_type(spec: SpecModel | None, model: type[_Spec]) -> _Spec | None:
    """`spec` if it is a `model`, else None (the stored specs are keyed by decorator name, typed loosely)."""
    return spec if isinstance(spec, model) else None
