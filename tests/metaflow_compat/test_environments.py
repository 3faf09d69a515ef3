"""@conda_base, @conda(libraries=...), @pypi and @pypi_base resolve to flowkit's conda environments."""

from __future__ import annotations

from pathlib import Path

import pytest

from flowkit import FlowDefinitionError, FlowSpec, conda, pypi, pypi_base, step
from flowkit.cli.main import load_flow_class
from flowkit.specs import resolve_step_specs

FLOWS = Path(__file__).parent / "flows"


def test_metaflow_environment_decorators_become_conda_specs() -> None:
    specs = resolve_step_specs(load_flow_class(str(FLOWS / "environments_flow.py")))
    assert specs["start"].conda is not None and specs["start"].conda.packages == {"numpy": "1.26.4"}
    assert specs["start"].conda.python == "3.11"
    features = specs["features"].conda
    assert features is not None and features.packages == {"pandas": "2.2.2"} and features.python == "3.11"
    train = specs["train"].conda
    assert train is not None and train.pip == ["scikit-learn==1.5.0", "requests>=2.31"]


def test_pypi_base_is_the_class_default_and_a_second_spelling_on_a_step_is_refused() -> None:
    @pypi_base(python="3.12", packages={"rich": ""})
    class PypiFlow(FlowSpec):
        @step
        def start(self):
            self.next(self.end)

        @step
        def end(self):
            pass

    start = resolve_step_specs(PypiFlow)["start"].conda
    assert start is not None and start.pip == ["rich"] and start.python == "3.12"
    with pytest.raises(FlowDefinitionError, match="applied twice"):

        class TwiceFlow(FlowSpec):
            @pypi(packages={"rich": "13.0"})
            @conda(libraries={"rich": "13.0"})
            @step
            def start(self):
                self.next(self.end)

            @step
            def end(self):
                pass
