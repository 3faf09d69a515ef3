"""Parameter parsing, JSON transport, defaults and required values."""

from __future__ import annotations

from typing import Any

import pytest

from flowkit import Flow, Parameter, step
from flowkit.authoring.parameter import flow_parameters, parameter_values
from flowkit.errors import ParameterError


class ParamFlow(Flow):
    lr = Parameter("lr", default=0.1, help="learning rate")
    epochs = Parameter("epochs", default=3)
    verbose = Parameter("verbose", default=False)
    name = Parameter("name", default="x")
    grid = Parameter("grid", type=dict)
    label = Parameter("cli-label", default="a")
    must = Parameter("must", type=int, required=True)

    @step
    def start(self):
        self.next(self.end)

    @step
    def end(self):
        pass


class ChildFlow(ParamFlow):
    extra = Parameter("extra", default=1)


PARAMS = flow_parameters(ParamFlow)


@pytest.mark.parametrize(
    ("name", "text", "value"),
    [
        ("lr", "0.5", 0.5),
        ("epochs", "10", 10),
        ("verbose", "TRUE", True),
        ("verbose", "no", False),
        ("name", "hello world", "hello world"),
        ("grid", '{"depth": [1, 2]}', {"depth": [1, 2]}),
    ],
)
def test_parse_cli_text(name: str, text: str, value: Any) -> None:
    assert PARAMS[name].parse(text) == value


@pytest.mark.parametrize(("name", "text"), [("epochs", "ten"), ("verbose", "maybe"), ("grid", "[1, 2]"), ("lr", "x")])
def test_bad_cli_text_names_flow_and_parameter(name: str, text: str) -> None:
    with pytest.raises(ParameterError, match=f"ParamFlow parameter '{name}'") as caught:
        PARAMS[name].parse(text)
    assert caught.value.flow == "ParamFlow" and caught.value.parameter == name


@pytest.mark.parametrize(
    "value", [None, 'quote " and \\ backslash', "line\nbreak", "ünïcode ✓", '{"a": 1}', "", "null"]
)
def test_json_round_trip_is_exact(value: Any) -> None:
    parameter = PARAMS["name"]
    text = parameter.to_json(value)
    assert text.isascii()
    assert parameter.from_json(text) == value


def test_json_kinds_are_checked() -> None:
    assert PARAMS["lr"].from_json("1") == 1.0
    with pytest.raises(ParameterError, match="expected int"):
        PARAMS["epochs"].from_json('"3"')
    with pytest.raises(ParameterError, match="invalid JSON"):
        PARAMS["grid"].from_json("{oops")
    with pytest.raises(ParameterError, match="cannot be sent as JSON"):
        PARAMS["grid"].to_json({"a": {1, 2}})


def test_flow_parameters_by_name_with_inheritance() -> None:
    assert list(PARAMS) == ["lr", "epochs", "verbose", "name", "grid", "cli-label", "must"]
    assert PARAMS["cli-label"].attribute == "label"
    assert set(flow_parameters(ChildFlow)) == set(PARAMS) | {"extra"}
    assert ParamFlow.lr is PARAMS["lr"], "class access returns the Parameter itself"


def test_parameter_values_apply_defaults_and_require() -> None:
    values = parameter_values(ParamFlow, {"must": "4", "cli-label": '"b"'})
    assert values == {
        "lr": 0.1, "epochs": 3, "verbose": False, "name": "x", "grid": None, "label": "b", "must": 4,
    }  # fmt: skip
    with pytest.raises(ParameterError, match="'must': is required"):
        parameter_values(ParamFlow, {})
    with pytest.raises(ParameterError, match="'nope': no such parameter"):
        parameter_values(ParamFlow, {"must": "1", "nope": "1"})
