"""The spec decorators: `@kubernetes`, `@resources`, `@retry`, `@timeout`, `@environment`, `@catch`, `@conda`
(on a flow class as the default of every step, or on one step) and `@argo`, `@schedule` (flow class only).

Every decorator is built by `spec_decorator` from a pydantic spec model, so they all behave alike: usable bare
(`@retry`) or called (`@retry(times=2)`), keywords validated the moment the decorator runs, and an error that names
the flow, the step, the decorator and the field. A step decorator runs inside the class body, before the class
exists, so the flow's name comes from the function's ``__qualname__`` ("TrainFlow.train"). A class decorator also
resolves every step's merged spec at once, so a conflict between a class default and a step override fails when the
class is defined, not when the flow first runs; a Flow subclass that only inherits class-level decorators is resolved
by `Flow.__init_subclass__`. See `flowkit.specs.resolve` for the precedence rules.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from types import FunctionType
from typing import TYPE_CHECKING, Any, Generic, TypeVar, overload

from flowkit.authoring.config import ConfigExpr, evaluate_config_exprs
from flowkit.authoring.step import CLASS_SPECS_ATTR, GRAPH_CACHE_ATTR, PENDING_SPECS_ATTR, STEP_SPECS_ATTR
from flowkit.errors import FlowDefinitionError
from flowkit.specs.resolve import RESOLVED_SPECS_ATTR, resolve_step_specs
from flowkit.specs.shipped import decorators_are_inert

if TYPE_CHECKING:
    from flowkit.specs.argo import ArgoSpec, ScheduleSpec
    from flowkit.specs.base import SpecModel
    from flowkit.specs.catch import CatchSpec
    from flowkit.specs.conda import CondaSpec
    from flowkit.specs.environment import EnvironmentSpec
    from flowkit.specs.kubernetes import KubernetesSpec
    from flowkit.specs.project import ProjectSpec
    from flowkit.specs.resources import ResourcesSpec
    from flowkit.specs.retry import RetrySpec
    from flowkit.specs.timeout import TimeoutSpec

_Target = TypeVar("_Target", bound=Callable[..., Any])
_Spec = TypeVar("_Spec", bound="SpecModel")


class SpecDecorator(Generic[_Spec]):
    """A decorator that validates its keywords into `model` and records the spec on a step or a flow class.

    `model` may be given as ``"module:Class"``: the spec models are pydantic models, imported when a decorator is
    first applied, so that importing a flow's module in a pod (where the decorators are inert, see
    `flowkit.specs.shipped`) never imports pydantic.
    """

    def __init__(
        self,
        name: str,
        model: type[_Spec] | str,
        *,
        class_level: bool,
        step_level: bool,
        stores_as: str | None = None,
        translate: Callable[[dict[str, Any]], dict[str, Any]] | None = None,
    ) -> None:
        """`stores_as` and `translate` make Metaflow's other spelling of a decorator (``@pypi`` for ``@conda``):
        the spec is recorded under `stores_as`, from the keywords `translate` maps onto `model`'s fields."""
        self.name = name
        self._model = model
        self.class_level = class_level
        self.step_level = step_level
        self.key = stores_as or name
        self.translate = translate

    @property
    def model(self) -> type[_Spec]:
        if isinstance(self._model, str):
            module, _, class_name = self._model.partition(":")
            self._model = getattr(importlib.import_module(module), class_name)
        return self._model  # type: ignore[return-value]

    @property
    def __doc__(self) -> str:  # type: ignore[override]
        """What ``help(decorator)`` shows: the model's docstring, read once the model is imported."""
        return f"@{self.name}: {self.model.__doc__}"

    def __repr__(self) -> str:
        return f"<flowkit decorator @{self.name}>"

    @overload
    def __call__(self, target: _Target, /) -> _Target: ...

    @overload
    def __call__(self, /, **fields: Any) -> Callable[[_Target], _Target]: ...

    def __call__(self, target: Any = None, /, **fields: Any) -> Any:
        if target is None:
            return lambda decorated: self._apply(decorated, fields)
        if fields:
            raise TypeError(f"@{self.name} takes keyword arguments only, e.g. @{self.name}(...) above the step")
        return self._apply(target, {})

    def _apply(self, target: _Target, fields: dict[str, Any]) -> _Target:
        if decorators_are_inert():  # a pod: the specs come with the package, checked when it was built
            return target
        if isinstance(target, FunctionType) and any(isinstance(value, ConfigExpr) for value in fields.values()):
            # A step's decorator runs before its class exists, and with it the configs: wait for the class.
            setattr(target, PENDING_SPECS_ATTR, [*getattr(target, PENDING_SPECS_ATTR, []), (self, fields)])
            return target
        if isinstance(target, type):
            fields = evaluate_config_exprs(fields, target, what=f"@{self.name}")
        if self.translate is not None:
            fields = self.translate(fields)
        if isinstance(target, type):
            self._decorate_class(target, fields)
        elif isinstance(target, FunctionType):
            self._decorate_step(target, fields)
        else:
            raise TypeError(f"@{self.name} decorates a flow class or a step function, got {target!r}")
        return target

    def _validate(self, fields: dict[str, Any], *, flow: str, step: str | None, lineno: int | None) -> _Spec:
        from flowkit.specs.validation import validate_spec

        return validate_spec(self.model, fields, flow=flow, step=step, decorator=self.name, lineno=lineno)

    def _decorate_step(self, function: FunctionType, fields: dict[str, Any]) -> None:
        flow, step = _flow_and_step_names(function)
        lineno = function.__code__.co_firstlineno
        if not self.step_level:
            raise FlowDefinitionError(
                f"applies to the flow class only, not to a step: move @{self.name} above 'class {flow}'",
                flow=flow,
                step=step,
                decorator=self.name,
                lineno=lineno,
            )
        spec = self._validate(fields, flow=flow, step=step, lineno=lineno)
        specs: dict[str, SpecModel] = dict(getattr(function, STEP_SPECS_ATTR, {}))
        if self.key in specs:
            raise FlowDefinitionError(
                f"is applied twice (@{self.key} and its other spellings count as one); merge the keywords",
                flow=flow,
                step=step,
                decorator=self.name,
                lineno=lineno,
            )
        specs[self.key] = spec
        setattr(function, STEP_SPECS_ATTR, specs)

    def _decorate_class(self, flow_cls: type, fields: dict[str, Any]) -> None:
        flow = flow_cls.__name__
        if not self.class_level:
            raise FlowDefinitionError("applies to a step only, not to the flow class", flow=flow, decorator=self.name)
        spec = self._validate(fields, flow=flow, step=None, lineno=None)
        specs: dict[str, SpecModel] = dict(vars(flow_cls).get(CLASS_SPECS_ATTR, {}))
        if self.key in specs:
            raise FlowDefinitionError(
                f"is applied twice to the class (@{self.key} and its other spellings count as one); merge the keywords",
                flow=flow,
                decorator=self.name,
            )
        specs[self.key] = spec
        setattr(flow_cls, CLASS_SPECS_ATTR, specs)
        # The class's defaults changed: anything derived from them is stale (@argo(on_exit=...) shapes the graph).
        for cache in (RESOLVED_SPECS_ATTR, GRAPH_CACHE_ATTR):
            if cache in vars(flow_cls):
                delattr(flow_cls, cache)
        resolve_step_specs(flow_cls)


def spec_decorator(
    name: str, model: type[_Spec] | str, *, class_level: bool = True, step_level: bool = True
) -> SpecDecorator[_Spec]:
    """Build the decorator `@name` whose keywords are the fields of `model` (a class, or ``"module:Class"``)."""
    return SpecDecorator(name, model, class_level=class_level, step_level=step_level)


def _flow_and_step_names(function: FunctionType) -> tuple[str, str]:
    """("TrainFlow", "train") from the qualname "TrainFlow.train" (or "test.<locals>.TrainFlow.train")."""
    parts = function.__qualname__.split(".")
    if len(parts) < 2 or parts[-2] == "<locals>":
        return function.__module__, function.__name__
    return parts[-2], parts[-1]


kubernetes: SpecDecorator[KubernetesSpec] = spec_decorator("kubernetes", "flowkit.specs.kubernetes:KubernetesSpec")
resources: SpecDecorator[ResourcesSpec] = spec_decorator("resources", "flowkit.specs.resources:ResourcesSpec")
retry: SpecDecorator[RetrySpec] = spec_decorator("retry", "flowkit.specs.retry:RetrySpec")
timeout: SpecDecorator[TimeoutSpec] = spec_decorator("timeout", "flowkit.specs.timeout:TimeoutSpec")
environment: SpecDecorator[EnvironmentSpec] = spec_decorator("environment", "flowkit.specs.environment:EnvironmentSpec")
catch: SpecDecorator[CatchSpec] = spec_decorator("catch", "flowkit.specs.catch:CatchSpec")
conda: SpecDecorator[CondaSpec] = spec_decorator("conda", "flowkit.specs.conda:CondaSpec")
argo: SpecDecorator[ArgoSpec] = spec_decorator("argo", "flowkit.specs.argo:ArgoSpec", step_level=False)
schedule: SpecDecorator[ScheduleSpec] = spec_decorator("schedule", "flowkit.specs.argo:ScheduleSpec", step_level=False)
project: SpecDecorator[ProjectSpec] = spec_decorator("project", "flowkit.specs.project:ProjectSpec", step_level=False)
CONDA_SPEC = "flowkit.specs.conda:CondaSpec"


def _pypi_as_conda(fields: dict[str, Any]) -> dict[str, Any]:
    """Metaflow's ``@pypi(packages={"pandas": "2.1.1"}, python="3.11")`` as `CondaSpec` fields (pip requirements).

    A bare version means ``==`` as in Metaflow; one that starts with a comparison (``>=2``) is kept as written.
    """
    translated = dict(fields)
    packages = translated.pop("packages", None)
    if isinstance(packages, dict):
        translated["pip"] = [
            name + (version if version[:1] in "<>=!~" else f"=={version}") if version else name
            for name, version in packages.items()
        ]
    elif packages is not None:
        translated["pip"] = packages  # not a mapping: let CondaSpec's validation say what is wrong
    return translated


conda_base: SpecDecorator[CondaSpec] = SpecDecorator(
    "conda_base", CONDA_SPEC, class_level=True, step_level=False, stores_as="conda"
)
"""Metaflow's class-level ``@conda_base(libraries=..., python=...)``: ``@conda`` on the flow class."""
pypi: SpecDecorator[CondaSpec] = SpecDecorator(
    "pypi", CONDA_SPEC, class_level=True, step_level=True, stores_as="conda", translate=_pypi_as_conda
)
"""Metaflow's ``@pypi(packages=..., python=...)``: a conda environment with those pip packages."""
pypi_base: SpecDecorator[CondaSpec] = SpecDecorator(
    "pypi_base", CONDA_SPEC, class_level=True, step_level=False, stores_as="conda", translate=_pypi_as_conda
)
"""Metaflow's class-level ``@pypi_base``."""


def apply_pending_specs(flow_cls: type) -> None:
    """Apply the step decorators of `flow_cls` that waited for its configs (see `SpecDecorator._apply`)."""
    from flowkit.authoring.step import find_steps

    for name, function in find_steps(flow_cls).items():
        for decorator, fields in vars(function).pop(PENDING_SPECS_ATTR, []):
            decorator(**evaluate_config_exprs(fields, flow_cls, what=f"{name} @{decorator.name}"))(function)
