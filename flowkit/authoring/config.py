"""`Config` and `config_expr`: a flow's configuration, read from a file or a JSON value when the run starts.

As in Metaflow, ``config = Config("config", default="config.json")`` makes ``self.config`` in every step a read-only
mapping whose keys are also attributes (``self.config.model.depth``); ``python flow.py --config config other.json
run`` or ``--config-value config '{"model": {"depth": 4}}'`` replaces it for one run. A config travels like a
parameter value (JSON in run.json and to every task and pod).

``config_expr("config.model.depth")`` stands for a value computed from the configs: it may be a `Parameter`'s
default, evaluated with the run's configs when the run starts, or a decorator's argument
(``@resources(cpu=config_expr("config.cpu"))``), evaluated when the class is defined with each Config's default.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from flowkit.authoring.parameter import Parameter
from flowkit.errors import FlowDefinitionError, ParameterError


class ConfigValue(dict[str, Any]):
    """A config's value: a dict whose keys also read as attributes, nested mappings included."""

    def __init__(self, data: Mapping[str, Any]) -> None:
        super().__init__({key: _wrapped(value) for key, value in data.items()})

    def __getattr__(self, name: str) -> Any:
        try:
            return self[name]
        except KeyError:
            raise AttributeError(f"the config has no key {name!r} (keys: {', '.join(sorted(self))})") from None

    def __reduce__(self) -> tuple[Any, ...]:
        return (ConfigValue, (dict(self),))


def _wrapped(value: Any) -> Any:
    if isinstance(value, Mapping):
        return ConfigValue(value)
    if isinstance(value, list):
        return [_wrapped(item) for item in value]
    return value


class ConfigExpr:
    """A Python expression over the flow's configs (by their attribute names), evaluated when the class is defined."""

    def __init__(self, expression: str) -> None:
        self.expression = expression

    def evaluate(self, configs: Mapping[str, Any], *, flow: str, field: str) -> Any:
        try:
            return eval(self.expression, {"__builtins__": {}}, dict(configs))  # the flow author's own expression
        except Exception as error:
            raise FlowDefinitionError(
                f"config_expr({self.expression!r}) failed: {type(error).__name__}: {error}", flow=flow, field=field
            ) from None

    def __repr__(self) -> str:
        return f"config_expr({self.expression!r})"


def config_expr(expression: str) -> ConfigExpr:
    """A value computed from the flow's configs, e.g. ``config_expr("config.resources.cpu")``."""
    return ConfigExpr(expression)


class Config(Parameter):
    """A flow configuration: ``Config("config", default="config.json")`` or ``Config("c", default_value={...})``.

    `default` is a file path (read when the flow is defined, from the current directory or beside the flow's file),
    `default_value` the value itself (a mapping or JSON text). `parser` turns a file's text into a mapping (default:
    JSON).
    """

    def __init__(
        self,
        name: str,
        default: str | None = None,
        default_value: Mapping[str, Any] | str | None = None,
        help: str | None = None,  # Metaflow's keyword name, shadowing the builtin on purpose
        required: bool = False,
        parser: Callable[[str], Mapping[str, Any]] | None = None,
    ) -> None:
        super().__init__(name, default=None, type=dict, help=help, required=required)
        self.path = default
        self.default_value = default_value
        self.parser = parser

    def __set_name__(self, owner: type, attribute: str) -> None:
        super().__set_name__(owner, attribute)
        if self.default_value is not None:
            self.default = self._value(self.default_value)
        elif self.path is not None:
            found = _config_file(self.path, owner)
            if found is not None:
                self.default = self.read_file(str(found))

    def read_file(self, path: str) -> ConfigValue:
        """The config in the file at `path` (`--config NAME PATH`)."""
        try:
            text = Path(path).expanduser().read_text()
        except OSError as error:
            raise ParameterError(f"cannot read the config file {path!r}: {error}", **self._where()) from None
        return self._value(self.parser(text) if self.parser is not None else text)

    def parse(self, text: str) -> ConfigValue:
        """A config given as JSON text (`--config-value NAME JSON`)."""
        return self._value(text)

    def from_json(self, text: str) -> Any:
        value = super().from_json(text)
        return None if value is None else ConfigValue(value)

    def _value(self, given: Mapping[str, Any] | str) -> ConfigValue:
        try:
            data = json.loads(given) if isinstance(given, str) else given
        except ValueError as error:
            raise ParameterError(f"the config is not valid JSON: {error}", **self._where()) from None
        if not isinstance(data, Mapping):
            raise ParameterError(f"a config is a mapping, got {type(data).__name__}", **self._where())
        return ConfigValue(data)


def _config_file(path: str, owner: type) -> Path | None:
    """`path` as given (from the current directory), else beside the file defining the flow.

    The second place is where a pod finds it: the code package ships the project's files, and a pod imports the
    flow from there, in another working directory.
    """
    given = Path(path).expanduser()
    if given.is_file():
        return given
    module_file = getattr(sys.modules.get(owner.__module__), "__file__", None)
    beside = Path(module_file).parent / path if module_file else None
    return beside if beside is not None and beside.is_file() else None


def config_defaults(flow_cls: type) -> dict[str, Any]:
    """The default value of each Config of `flow_cls`, by the attribute it is bound to (what expressions name)."""
    found: dict[str, Any] = {}
    for klass in reversed(flow_cls.__mro__):
        for attribute, value in vars(klass).items():
            if isinstance(value, Config):
                found[attribute] = value.default
    return found


def evaluate_config_exprs(fields: dict[str, Any], flow_cls: type, *, what: str) -> dict[str, Any]:
    """`fields` with every `ConfigExpr` value replaced by its value under `flow_cls`'s configs."""
    if not any(isinstance(value, ConfigExpr) for value in fields.values()):
        return fields
    configs = config_defaults(flow_cls)
    return {
        key: value.evaluate(configs, flow=flow_cls.__name__, field=f"{what}.{key}")
        if isinstance(value, ConfigExpr)
        else value
        for key, value in fields.items()
    }
