"""@conda_base, @conda(libraries=...), @pypi and @pypi_base resolve to flowkit's conda environments."""

from __future__ import annotations

from pathlib import Path

import pytest

from flowkit import FlowDefinitionError, FlowSpec, conda, conda_base, pypi, pypi_base, step
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


def test_disabled_turns_the_environment_off_for_the_flow_or_one_step() -> None:
    """Metaflow's ``disabled=True``: a step's ``@conda(disabled=True)`` runs it on the flow's own Python although the
    class has ``@conda_base``; ``@conda_base(disabled=True)`` leaves every step without an environment."""

    @conda_base(python="3.11", libraries={"numpy": "1.26.4"})
    class PartlyFlow(FlowSpec):
        @conda(disabled=True)
        @step
        def start(self):
            self.next(self.end)

        @step
        def end(self):
            pass

    specs = resolve_step_specs(PartlyFlow)
    assert specs["start"].conda is None
    assert specs["end"].conda is not None and specs["end"].conda.packages == {"numpy": "1.26.4"}

    @pypi_base(packages={"rich": ""}, disabled=True)
    class OffFlow(FlowSpec):
        @step
        def start(self):
            self.next(self.end)

        @pypi(packages={"requests": "2.31.0"}, disabled=True)
        @step
        def end(self):
            pass

    assert all(spec.conda is None for spec in resolve_step_specs(OffFlow).values())
