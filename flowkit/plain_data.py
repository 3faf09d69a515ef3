"""Data classes declared like dataclasses, for the types a task builds before its step's first line.

Why not `dataclasses`: every pod imports the datastore's records and the flow's graph before the step runs, and on
CPython 3.12 ``import dataclasses`` (which loads ``inspect``, ``ast``, ``dis`` and ``tokenize``) plus the methods it
writes and compiles for each class cost a pod's start some 15 ms, a quarter of its budget. A `PlainData` subclass
is declared the same way (annotated fields, defaults, `field` with a ``default_factory``) and read once, when the
class is created, without compiling anything. It gives what flowkit uses of a dataclass: a keyword-only
``__init__`` that calls ``__post_init__`` if there is one, ``==`` and ``repr`` over the fields in declaration
order, ``frozen=True`` (assignment refused, instances hashable), `fields` and `replace`. Type checkers treat the
subclasses as dataclasses (PEP 681).

Standard library only, as the rest of the foundation layer: the records and the graph every pod reads build on it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar

if TYPE_CHECKING:
    from typing_extensions import dataclass_transform
else:

    def dataclass_transform(**_options: object) -> Callable[[type], type]:
        """What type checkers read; nothing to do at run time (``typing`` has it only from Python 3.11)."""
        return lambda cls: cls


_T = TypeVar("_T", bound="PlainData")


class _Factory:
    """A field's default made anew for each instance (see `field`)."""

    __slots__ = ("make",)

    def __init__(self, make: Callable[[], Any]) -> None:
        self.make = make


def field(*, default_factory: Callable[[], Any]) -> Any:
    """A field whose default is ``default_factory()``, called for each instance: a list or dict of its own."""
    return _Factory(default_factory)


@dataclass_transform(kw_only_default=True, field_specifiers=(field,))
class PlainData:
    """Base of a data class: subclass it and annotate the fields (``class Point(PlainData, frozen=True): ...``)."""

    _fields: ClassVar[tuple[str, ...]] = ()
    """Field names in declaration order, a base class's first."""
    _field_set: ClassVar[frozenset[str]] = frozenset()
    _defaults: ClassVar[dict[str, Any]] = {}
    """Field name -> default value, or a `_Factory` making one."""

    def __init_subclass__(cls, *, frozen: bool = False, **options: Any) -> None:
        super().__init_subclass__(**options)
        annotations: dict[str, Any] = cls.__dict__.get("__annotations__", {})  # noqa: RUF063 (inspect: the cost)
        own = [name for name, annotation in annotations.items() if not _is_class_var(annotation)]
        cls._fields = (*cls._fields, *(name for name in own if name not in cls._fields))
        cls._field_set = frozenset(cls._fields)
        cls._defaults = {**cls._defaults}
        for name in own:
            if name in cls.__dict__:
                cls._defaults[name] = cls.__dict__[name]
                if isinstance(cls.__dict__[name], _Factory):
                    delattr(cls, name)  # an instance always has its own value
            else:
                cls._defaults.pop(name, None)  # redeclared without a default: required again
        if frozen:
            cls.__setattr__ = _refuse_assignment  # type: ignore[method-assign,assignment]
            cls.__delattr__ = _refuse_assignment  # type: ignore[method-assign,assignment]
            cls.__hash__ = _hash_fields  # type: ignore[method-assign,assignment]

    def __init__(self, **values: Any) -> None:
        if values.keys() != self._field_set:  # else every field is given, as when a record is read back
            for name, default in self._defaults.items():
                if name not in values:
                    values[name] = default.make() if isinstance(default, _Factory) else default
            if values.keys() != self._field_set:
                unknown = sorted(values.keys() - self._field_set)
                missing = sorted(self._field_set - values.keys())
                problem = f"unexpected fields {unknown}" if unknown else f"missing fields {missing}"
                raise TypeError(f"{type(self).__name__}(): {problem}")
        self.__dict__.update(values)  # not setattr: a frozen instance is filled here and only here
        post_init = getattr(self, "__post_init__", None)
        if post_init is not None:
            post_init()

    def __eq__(self, other: object) -> bool:  # (which leaves a class that is not frozen unhashable, as a dataclass)
        if type(other) is not type(self):
            return NotImplemented
        return all(getattr(self, name) == getattr(other, name) for name in self._fields)

    def __repr__(self) -> str:
        shown = ", ".join(f"{name}={getattr(self, name)!r}" for name in self._fields)
        return f"{type(self).__qualname__}({shown})"


def fields(data: PlainData | type[PlainData]) -> tuple[str, ...]:
    """The field names of a data class or instance, in declaration order."""
    return data._fields


def replace(data: _T, **changes: Any) -> _T:
    """A copy of ``data`` with ``changes`` (built by ``__init__``, so ``__post_init__`` runs again)."""
    return type(data)(**{**{name: getattr(data, name) for name in data._fields}, **changes})


def _is_class_var(annotation: Any) -> bool:
    text = annotation if isinstance(annotation, str) else repr(annotation)
    return text.startswith(("ClassVar", "typing.ClassVar"))


def _refuse_assignment(self: PlainData, name: str, *_value: Any) -> None:
    raise AttributeError(f"cannot assign to field {name!r}: {type(self).__name__} is frozen")


def _hash_fields(self: PlainData) -> int:
    return hash(tuple(getattr(self, name) for name in self._fields))
