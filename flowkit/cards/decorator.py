"""``@card``: render an HTML report of a step's task into the datastore (Metaflow's spelling and arguments).

Unlike the spec decorators, ``@card`` says nothing about where or how a task runs, so it is not part of the
resolved step spec; it only leaves a list of `CardDeclaration` on the step function, and the task executor renders
the declared cards after the step. A step may carry several cards with different ids.
"""

from __future__ import annotations

from collections.abc import Callable
from types import FunctionType
from typing import Any, TypeVar, overload

from flowkit.cards.declaration import CARDS_ATTR, CardDeclaration
from flowkit.errors import FlowDefinitionError

_F = TypeVar("_F", bound=Callable[..., Any])


@overload
def card(function: _F, /) -> _F: ...


@overload
def card(
    *,
    type: str = "default",
    id: str | None = None,
    options: dict[str, Any] | None = None,
    timeout: float = 45,
    refresh_interval: float = 5,
    **metaflow_only: Any,
) -> Callable[[_F], _F]: ...


def card(function: Any = None, /, **arguments: Any) -> Any:
    """``@card`` or ``@card(type="default"|"blank", id=None, options={}, timeout=45, refresh_interval=5)``.

    Metaflow's ``save_errors`` and ``customize`` are accepted and have no effect: errors are always shown in the
    card, and the card that ``current.card.append`` fills is the one without an id.
    """
    if function is not None:
        return _declare(function, {})
    return lambda decorated: _declare(decorated, arguments)


def _declare(function: Any, arguments: dict[str, Any]) -> Any:
    if isinstance(function, type) or not isinstance(function, FunctionType):
        raise TypeError(f"@card decorates a step function, got {function!r}")
    flow, _, step = function.__qualname__.rpartition(".")
    flow = flow.rpartition(".")[2] or function.__module__
    lineno = function.__code__.co_firstlineno

    def error(message: str, field: str | None = None) -> FlowDefinitionError:
        return FlowDefinitionError(message, flow=flow, step=step, decorator="card", field=field, lineno=lineno)

    for ignored in ("save_errors", "customize"):
        arguments.pop(ignored, None)
    try:
        declaration = CardDeclaration(**{**arguments, "options": dict(arguments.get("options") or {})})
    except TypeError as problem:
        raise error(f"unknown argument: {problem}") from None
    for field, message in declaration.problems():
        raise error(message, field)
    existing: list[CardDeclaration] = list(getattr(function, CARDS_ATTR, []))
    if any(other.file_stem == declaration.file_stem for other in existing):
        raise error(
            f"two @card with type {declaration.type!r} and id {declaration.id!r}; give each a different id", "id"
        )
    setattr(function, CARDS_ATTR, [declaration, *existing])
    return function
