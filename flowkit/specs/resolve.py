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

import copy
from collections.abc import Collection, Mapping
from typing import TYPE_CHECKING, Any, NamedTuple, TypeVar

from flowkit.authoring.step import declared_class_specs, declared_step_specs, find_steps
from flowkit.specs import defaults
from flowkit.specs.shipped import shipped_class_specs, shipped_step_specs

if TYPE_CHECKING:
    from flowkit.specs.argo import ArgoSpec, ScheduleSpec
    from flowkit.specs.base import SpecModel
    from flowkit.specs.catch import CatchSpec
    from flowkit.specs.conda import CondaSpec
    from flowkit.specs.kubernetes import KubernetesSpec
    from flowkit.specs.project import ProjectSpec
    from flowkit.specs.resources import ResourcesSpec
    from flowkit.specs.retry import RetrySpec
    from flowkit.specs.timeout import TimeoutSpec

_Spec = TypeVar("_Spec", bound="SpecModel")

RESOLVED_SPECS_ATTR = "__flowkit_step_specs__"
"""Cache of `resolve_step_specs` in the flow class's own ``__dict__`` (travels with a class pickled by value)."""


class StepSpec:
    """Everything the schedulers need to know about how one step's tasks run.

    Immutable. A plain class rather than a pydantic model like the specs it holds: it only assembles specs that are
    already validated, and a flow without decorators must not make ``python myflow.py run`` import pydantic (most of
    that command's start-up time). So a step that declares no pod settings or retries holds none: `kubernetes` and
    `retry` build the models' defaults on first access (a local task that succeeds never asks), and `model_dump`
    writes them from `flowkit.specs.defaults`, generated from the models.
    """

    __slots__ = ("_kubernetes", "_retry", "catch", "conda", "environment_vars", "step", "timeout")

    step: str
    timeout: TimeoutSpec | None
    environment_vars: dict[str, str]
    catch: CatchSpec | None
    conda: CondaSpec | None
    _kubernetes: KubernetesSpec | None  # None: not declared, the model's defaults
    _retry: RetrySpec | None

    def __init__(
        self,
        step: str,
        kubernetes: KubernetesSpec | None = None,
        retry: RetrySpec | None = None,
        timeout: TimeoutSpec | None = None,
        environment_vars: Mapping[str, str] | None = None,
        catch: CatchSpec | None = None,
        conda: CondaSpec | None = None,
    ) -> None:
        fields = {
            "step": step,
            "_kubernetes": kubernetes,
            "_retry": retry,
            "timeout": timeout,
            "environment_vars": dict(environment_vars or {}),
            "catch": catch,
            "conda": conda,
        }
        for name, value in fields.items():
            object.__setattr__(self, name, value)

    @property
    def kubernetes(self) -> KubernetesSpec:
        """The step's pod settings (the model's defaults when it declares none)."""
        spec = self._kubernetes
        if spec is None:
            from flowkit.specs.kubernetes import KubernetesSpec

            spec = KubernetesSpec()
            object.__setattr__(self, "_kubernetes", spec)
        return spec

    @property
    def retry(self) -> RetrySpec:
        """The step's retry policy (``times=0`` when it declares none)."""
        spec = self._retry
        if spec is None:
            from flowkit.specs.retry import RetrySpec

            spec = RetrySpec(times=0)
            object.__setattr__(self, "_retry", spec)
        return spec

    def model_dump(
        self, *, mode: str = "python", exclude_none: bool = False, exclude: Collection[str] = ()
    ) -> dict[str, Any]:
        """The dict a pydantic model of these fields would dump (`mode="json"`: JSON-ready), as records store it."""

        def dump(spec: SpecModel | None, default: dict[str, Any] | None) -> Any:
            if spec is not None:
                return spec.model_dump(mode=mode, exclude_none=exclude_none)
            if default is None or not exclude_none:
                return copy.deepcopy(default)
            return {name: copy.deepcopy(value) for name, value in default.items() if value is not None}

        data = {
            "step": self.step,
            "kubernetes": dump(self._kubernetes, defaults.KUBERNETES),
            "retry": dump(self._retry, defaults.RETRY),
            "timeout": dump(self.timeout, None),
            "environment_vars": dict(self.environment_vars),
            "catch": dump(self.catch, None),
            "conda": dump(self.conda, None),
        }
        return {
            name: value for name, value in data.items() if name not in exclude and not (exclude_none and value is None)
        }

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError(f"a StepSpec is immutable (it is shared by the runtime, show and the compiler): {name}")

    def __eq__(self, other: object) -> bool:
        return isinstance(other, StepSpec) and self.model_dump() == other.model_dump()

    __hash__ = None  # type: ignore[assignment]  # equal specs hold unhashable dicts

    def __repr__(self) -> str:
        fields = ", ".join(f"{name}={value!r}" for name, value in self.model_dump(exclude_none=True).items())
        return f"StepSpec({fields})"

    def __reduce__(self) -> tuple[type[StepSpec], tuple[Any, ...]]:
        # Slots and a refusing __setattr__ defeat pickle's default; a class pickled by value carries its specs.
        return (
            StepSpec,
            (self.step, self._kubernetes, self._retry, self.timeout, self.environment_vars, self.catch, self.conda),
        )


class FlowOptions(NamedTuple):
    """Flow-wide options from the class-level-only decorators."""

    argo: ArgoSpec
    schedule: ScheduleSpec | None
    project: ProjectSpec | None = None


def merge_specs(
    default: SpecModel | None, override: SpecModel, *, flow: str, step: str | None, decorator: str
) -> SpecModel:
    """`override` on top of `default`: the fields `override` sets win, the others keep `default`'s values."""
    from flowkit.specs.validation import validate_spec

    if default is None:
        return override
    if getattr(type(override), "merge_as_whole", False):
        return override
    fields = _set_fields(default)
    fields.update(_set_fields(override))
    return validate_spec(type(override), fields, flow=flow, step=step, decorator=decorator)


def class_level_specs(flow_cls: type) -> dict[str, SpecModel]:
    """The class-level spec of each decorator, inherited along the MRO (a subclass overrides its bases' fields);
    in a pod, those shipped with the code package."""
    shipped = shipped_class_specs(flow_cls)
    if shipped is not None:
        return shipped
    merged: dict[str, SpecModel] = {}
    for klass in reversed(flow_cls.__mro__):
        for decorator, spec in declared_class_specs(klass).items():
            merged[decorator] = merge_specs(
                merged.get(decorator), spec, flow=flow_cls.__name__, step=None, decorator=decorator
            )
    return merged


def exit_handler(flow_cls: type) -> str | None:
    """The step named by the flow's `@argo(on_exit=...)`, if any (read without building the default `@argo` options)."""
    argo = class_level_specs(flow_cls).get("argo")
    on_exit: str | None = getattr(argo, "on_exit", None)
    return on_exit


def flow_options(flow_cls: type) -> FlowOptions:
    """The flow's `@argo` options (defaults when absent), its `@schedule` and its `@project`, if any."""
    from flowkit.specs.argo import ArgoSpec, ScheduleSpec
    from flowkit.specs.project import ProjectSpec

    specs = class_level_specs(flow_cls)
    argo = specs.get("argo")
    schedule = specs.get("schedule")
    project = specs.get("project")
    return FlowOptions(
        argo=argo if isinstance(argo, ArgoSpec) else ArgoSpec(),
        schedule=schedule if isinstance(schedule, ScheduleSpec) else None,
        project=project if isinstance(project, ProjectSpec) else None,
    )


def resolve_step_specs(flow_cls: type) -> dict[str, StepSpec]:
    """The resolved spec of every step of `flow_cls` (see the module docstring for the precedence).

    Cached in the class's own ``__dict__``; a class-level decorator applied later clears the cache. In a pod, the
    specs shipped with the code package (`flowkit.specs.shipped`) are used as they are.
    """
    cached: dict[str, StepSpec] | None = vars(flow_cls).get(RESOLVED_SPECS_ATTR)
    if cached is not None:
        return cached
    shipped = shipped_step_specs(flow_cls)
    if shipped is not None:
        setattr(flow_cls, RESOLVED_SPECS_ATTR, shipped)
        return shipped
    class_defaults = class_level_specs(flow_cls)
    on_exit = exit_handler(flow_cls)
    resolved = {}
    for name, function in find_steps(flow_cls).items():
        declared = declared_step_specs(function)
        if not class_defaults and not declared:
            resolved[name] = StepSpec(name)
            continue
        defaults = _without_gpus(class_defaults, flow_cls.__name__) if name == on_exit else class_defaults
        merged = dict(defaults)
        for decorator, spec in declared.items():
            merged[decorator] = merge_specs(
                defaults.get(decorator), spec, flow=flow_cls.__name__, step=name, decorator=decorator
            )
        resolved[name] = _step_spec(flow_cls.__name__, name, merged, lineno=function.__code__.co_firstlineno)
    setattr(flow_cls, RESOLVED_SPECS_ATTR, resolved)
    return resolved


def _without_gpus(defaults: Mapping[str, SpecModel], flow: str) -> dict[str, SpecModel]:
    """The class-level defaults minus their GPUs, for the exit handler: a notification step would otherwise hold a
    GPU (and wait for a GPU node) because the flow's training steps need one. A GPU the exit handler's own decorator
    asks for still applies."""
    from flowkit.specs.validation import validate_spec

    stripped = dict(defaults)
    for decorator in ("kubernetes", "resources"):
        spec = defaults.get(decorator)
        if spec is not None and "gpu" in spec.model_fields_set:
            fields = {name: value for name, value in _set_fields(spec).items() if name != "gpu"}
            stripped[decorator] = validate_spec(type(spec), fields, flow=flow, step=None, decorator=decorator)
    return stripped


def _step_spec(flow: str, step: str, specs: Mapping[str, SpecModel], *, lineno: int) -> StepSpec:
    """Assemble one step's `StepSpec` from its merged per-decorator specs."""
    from flowkit.specs.catch import CatchSpec
    from flowkit.specs.conda import CondaSpec
    from flowkit.specs.environment import EnvironmentSpec
    from flowkit.specs.kubernetes import KubernetesSpec
    from flowkit.specs.resources import ResourcesSpec
    from flowkit.specs.retry import RetrySpec
    from flowkit.specs.timeout import TimeoutSpec

    kubernetes = _of_type(specs.get("kubernetes"), KubernetesSpec)
    resources = specs.get("resources")
    if isinstance(resources, ResourcesSpec):
        kubernetes = _with_resources(kubernetes or KubernetesSpec(), resources, flow=flow, step=step, lineno=lineno)
    environment = specs.get("environment")
    conda = _of_type(specs.get("conda"), CondaSpec)
    return StepSpec(
        step=step,
        kubernetes=kubernetes,
        retry=_of_type(specs.get("retry"), RetrySpec),
        timeout=_of_type(specs.get("timeout"), TimeoutSpec),
        environment_vars=environment.vars if isinstance(environment, EnvironmentSpec) else {},
        catch=_of_type(specs.get("catch"), CatchSpec),
        conda=None if conda is None or conda.disabled else conda,  # Metaflow's disabled=True: the step's own Python
    )


def _with_resources(
    kubernetes: KubernetesSpec, resources: ResourcesSpec, *, flow: str, step: str, lineno: int
) -> KubernetesSpec:
    """`kubernetes` with cpu, memory and gpu raised to what `@resources` asks for."""
    from flowkit.specs.kubernetes import KubernetesSpec
    from flowkit.specs.quantity import larger_quantity
    from flowkit.specs.validation import validate_spec

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
