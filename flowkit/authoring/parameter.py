"""Flow parameters: values given when a run starts, read-only in every step.

A value crosses process and pod boundaries as JSON text (``to_json`` / ``from_json``), never as CLI text or a
pickle, so None, quotes, newlines, unicode and nested JSON arrive exactly as given, whichever scheduler runs the
flow. ``parse`` is the one place that knows how a ``--name value`` flag is read.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from flowkit.errors import ParameterError

if TYPE_CHECKING:
    from flowkit.authoring.config import ConfigExpr

_TRUE_WORDS = frozenset({"true", "yes", "on", "1"})
_FALSE_WORDS = frozenset({"false", "no", "off", "0"})


class JSONTypeClass:
    """The type of a parameter whose value is any JSON document (Metaflow's ``JSONType``).

    The CLI text and a ``str`` default are decoded as JSON, so ``default='{"a": 1}'`` gives the step ``{"a": 1}``.
    """

    __name__ = "JSON"

    def __call__(self, text: str) -> Any:
        return json.loads(text)

    def __repr__(self) -> str:
        return "JSONType"


JSONType = JSONTypeClass()
"""Use as ``Parameter("config", type=JSONType, default='{"depth": 3}')``."""

_JSON_TYPES = (dict, list, JSONType)


class Parameter:
    """A flow parameter, declared as a class attribute: ``lr = Parameter("lr", default=0.01, help="...")``.

    ``type`` defaults to the type of ``default`` (``str`` when there is none); ``dict``, ``list`` and `JSONType` read
    JSON. With ``separator``, the value is a list: the CLI text (and a ``str`` default) is split on it and each part
    read as ``type``, as Metaflow does. The name may contain ``-`` (``--learning-rate``); the value is the class
    attribute's. Inside a step, ``self.lr`` is the run's value; assigning it raises :class:`ParameterError`.
    """

    def __init__(
        self,
        name: str,
        default: Any = None,
        type: Callable[..., Any] | None = None,  # Metaflow's keyword names, shadowing builtins on purpose
        help: str | None = None,
        required: bool = False,
        separator: str | None = None,
        show_default: bool = True,
    ) -> None:
        self.name = name
        self.show_default = show_default
        """Whether `--help` shows the default (Metaflow's keyword)."""
        self.default = default
        self.separator = separator
        inferred = str if separator is not None else _type_of_default(default)
        self.type: Callable[..., Any] = type if type is not None else inferred
        self._type_given = type is not None
        self.help = help
        self.required = required
        self.attribute = name
        """The class attribute the parameter is bound to (its artifact name); usually equal to ``name``."""
        self.flow_name = "Flow"
        self.default_expr: ConfigExpr | None = None
        """A `config_expr` default: evaluated again when a run is given its own configs."""

    def __set_name__(self, owner: type, attribute: str) -> None:
        self.attribute = attribute
        self.flow_name = owner.__name__
        from flowkit.authoring.config import ConfigExpr, evaluate_config_exprs  # config.py builds on this module

        if isinstance(self.default, ConfigExpr):  # a default computed from the Configs declared above
            self.default_expr = self.default
            self.default = evaluate_config_exprs({"default": self.default}, owner, what=self.name)["default"]
            if not self._type_given and self.separator is None:
                self.type = _type_of_default(self.default)
        if isinstance(self.default, str) and (self.separator is not None or self.type is JSONType):
            self.default = self.parse(self.default)  # Metaflow reads such a default as it reads the CLI text

    def __get__(self, instance: Any, owner: type | None = None) -> Any:
        if instance is None:
            return self
        return instance._flowkit_parameter_value(self)

    def __set__(self, instance: Any, value: Any) -> None:
        raise self.read_only_error()

    def __repr__(self) -> str:
        return f"Parameter({self.name!r}, default={self.default!r}, type={getattr(self.type, '__name__', self.type)})"

    def read_only_error(self) -> ParameterError:
        return ParameterError("is read-only inside a step (parameters are fixed when the run starts)", **self._where())

    # -- text forms ----------------------------------------------------------------------------------------------
    def parse(self, text: str) -> Any:
        """Read a CLI value: int, float, bool (true/false/yes/no/on/off/1/0), str, or JSON for dict/list/JSONType.

        With a ``separator``, a list of such values.
        """
        if self.separator is not None:
            return [self._parse_one(part) for part in text.split(self.separator)]
        return self._parse_one(text)

    def _parse_one(self, text: str) -> Any:
        try:
            if self.type is bool:
                word = text.strip().lower()
                if word in _TRUE_WORDS | _FALSE_WORDS:
                    return word in _TRUE_WORDS
                raise ValueError(f"{text!r} is not a boolean (use true or false)")
            if self.type in _JSON_TYPES:
                return self._checked_one(json.loads(text))
            return self.type(text)
        except (TypeError, ValueError) as error:
            raise ParameterError(f"cannot read {text!r} as {self.type_name}: {error}", **self._where()) from None

    def to_json(self, value: Any) -> str:
        """The JSON text a value travels as (ASCII-only, so it survives any transport)."""
        try:
            return json.dumps(self._checked(value))
        except (TypeError, ValueError) as error:
            raise ParameterError(f"value {value!r} cannot be sent as JSON: {error}", **self._where()) from None

    def from_json(self, text: str) -> Any:
        """Decode the text written by :meth:`to_json`."""
        try:
            return self._checked(json.loads(text))
        except (TypeError, ValueError) as error:
            raise ParameterError(f"invalid JSON value {text!r}: {error}", **self._where()) from None

    @property
    def type_name(self) -> str:
        return getattr(self.type, "__name__", repr(self.type))

    def _checked(self, value: Any) -> Any:
        """Reject a value of the wrong JSON kind (a str for an int parameter); None always means 'unset'."""
        if self.separator is not None and value is not None:
            if not isinstance(value, list):
                raise TypeError(f"expected a list of {self.type_name} (the parameter has a separator)")
            return [self._checked_one(item) for item in value]
        return self._checked_one(value)

    def _checked_one(self, value: Any) -> Any:
        if value is None or self.type not in (bool, int, float, str, dict, list):
            return value
        if self.type is float and isinstance(value, int) and not isinstance(value, bool):
            return float(value)
        if not isinstance(value, self.type) or (self.type is int and isinstance(value, bool)):
            raise TypeError(f"expected {self.type_name}, got {type(value).__name__}")
        return value

    def _where(self) -> dict[str, str]:
        return {"flow": self.flow_name, "parameter": self.name}


def _type_of_default(default: Any) -> Callable[..., Any]:
    for candidate in (bool, int, float, str, dict, list):
        if isinstance(default, candidate):
            return candidate
    return str


def flow_parameters(flow_cls: type) -> dict[str, Parameter]:
    """The parameters of ``flow_cls`` (inherited ones included) by parameter name, in declaration order."""
    found: list[Parameter] = []
    seen: set[str] = set()
    for klass in flow_cls.__mro__:
        for attribute, value in vars(klass).items():
            if attribute not in seen and isinstance(value, Parameter):
                found.append(value)
            seen.add(attribute)
    return {parameter.name: parameter for parameter in found}


def parameter_values(flow_cls: type, given: dict[str, str]) -> dict[str, Any]:
    """Resolve a run's parameters: decode the JSON text ``given`` (by name), apply defaults, enforce ``required``.

    Returns values keyed by attribute name (the artifact each becomes).
    """
    declared = flow_parameters(flow_cls)
    for name in given:
        if name not in declared:
            known = ", ".join(sorted(declared)) or "none"
            raise ParameterError(f"no such parameter (parameters: {known})", flow=flow_cls.__name__, parameter=name)
    values: dict[str, Any] = {}
    for name, parameter in declared.items():
        if name in given:
            value = parameter.from_json(given[name])
        elif parameter.default_expr is not None:  # the run's configs (declared above it) are in `values` already
            value = parameter.default_expr.evaluate(values, flow=flow_cls.__name__, field=f"{name}.default")
        else:
            value = parameter.default
        if value is None and parameter.required:
            raise ParameterError("is required but was not given", flow=flow_cls.__name__, parameter=name)
        values[parameter.attribute] = value
    return values
