"""`@step` and the markers flowkit leaves on user functions and classes.

flowkit never wraps a step: `@step` and every spec decorator return the very function they receive, with an
attribute added. That keeps decorator order irrelevant (`@retry` above or below `@step` means the same), keeps the
function picklable by reference, and lets the model layer find everything it needs with plain attribute reads.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from types import FunctionType
from typing import TYPE_CHECKING, Any, TypeVar, overload

if TYPE_CHECKING:
    from flowkit.specs.base import SpecModel

STEP_MARKER = "__flowkit_step__"
"""Attribute set to True on a function decorated with `@step`."""

STEP_SPECS_ATTR = "__flowkit_step_specs__"
"""On a step function: ``dict[decorator name, SpecModel]`` declared on that step."""

CARDS_ATTR = "__flowkit_cards__"
"""On a step function: ``list[CardDeclaration]``, one per ``@card`` (see `flowkit.cards.decorator`)."""

STEP_ROLE_ATTR = "__flowkit_step_role__"
"""On a step function marked ``@step(start=True)`` or ``@step(end=True)``: ``"start"`` or ``"end"``."""

CLASS_SPECS_ATTR = "__flowkit_class_specs__"
"""On a flow class (its own ``__dict__`` only): ``dict[decorator name, SpecModel]`` declared on that class."""

GRAPH_CACHE_ATTR = "__flowkit_graph__"
"""On a flow class (its own ``__dict__``): the cache of `flowkit.graph.build_graph`; a class pickled by value carries
its graph into a pod, where its source cannot be read again."""

PENDING_SPECS_ATTR = "__flowkit_pending_specs__"
"""On a step function: ``[(decorator, fields)]`` whose fields hold a `config_expr`, applied once the class exists."""

_F = TypeVar("_F", bound=Callable[..., Any])


@overload
def step(function: _F) -> _F: ...


@overload
def step(*, start: bool = False, end: bool = False) -> Callable[[_F], _F]: ...


def step(function: _F | None = None, *, start: bool = False, end: bool = False) -> _F | Callable[[_F], _F]:
    """Mark `function` as a step of its flow class; the function itself is returned unchanged.

    ``@step(start=True)`` / ``@step(end=True)`` make a step of any name the flow's first or last step, as in
    Metaflow; without them those are the steps named ``start`` and ``end``.
    """

    def mark(target: _F) -> _F:
        if not isinstance(target, FunctionType):
            raise TypeError(f"@step decorates a function defined in a flow class, got {target!r}")
        setattr(target, STEP_MARKER, True)
        if start or end:
            setattr(target, STEP_ROLE_ATTR, ("start" if start else "") + ("end" if end else ""))
        return target

    return mark if function is None else mark(function)


def step_role(function: Callable[..., Any]) -> str | None:
    """``"start"`` or ``"end"`` for a step marked ``@step(start=True)`` or ``@step(end=True)`` (``"startend"``
    when marked both, which the graph refuses), else None."""
    role: str | None = getattr(function, STEP_ROLE_ATTR, None)
    return role


def is_step(obj: object) -> bool:
    """Whether `obj` is a function decorated with `@step`."""
    return isinstance(obj, FunctionType) and getattr(obj, STEP_MARKER, False) is True


def find_steps(flow_cls: type) -> dict[str, FunctionType]:
    """The step functions of `flow_cls`, inherited ones included, by name.

    Attributes are read from each class's own ``__dict__`` along the MRO (the first definition of a name wins, as
    for attribute lookup), so a subclass that redefines a step replaces it and descriptors are never triggered.
    """
    found: dict[str, FunctionType] = {}
    seen: set[str] = set()
    for klass in flow_cls.__mro__:
        for name, value in vars(klass).items():
            if name in seen:
                continue
            seen.add(name)
            if is_step(value):
                found[name] = value
    return found


def declared_step_specs(function: Callable[..., Any]) -> Mapping[str, SpecModel]:
    """The specs declared on one step function by step-level decorators."""
    specs: Mapping[str, SpecModel] = getattr(function, STEP_SPECS_ATTR, {})
    return specs


def declared_class_specs(flow_cls: type) -> Mapping[str, SpecModel]:
    """The specs declared by class-level decorators on `flow_cls` itself (not on its bases)."""
    specs: Mapping[str, SpecModel] = vars(flow_cls).get(CLASS_SPECS_ATTR, {})
    return specs
