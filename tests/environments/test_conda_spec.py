"""@conda declarations: validation errors name flow, step, decorator and field; class defaults and step overrides."""

from __future__ import annotations

import pytest

from flowkit import Flow, conda, step
from flowkit.errors import FlowDefinitionError
from flowkit.specs import CondaSpec, resolve_step_specs


def test_defaults_lock_linux_and_build_an_image() -> None:
    spec = CondaSpec(python="3.10", packages={"numpy": "1.26.*"})
    assert spec.platforms == ["linux-64"]
    assert spec.materialize == "image"
    assert spec.channels == ["conda-forge"]


@pytest.mark.parametrize(
    ("keywords", "field", "message"),
    [
        ({"file": "/etc/environment.yml"}, "file", "must be relative"),
        ({"file": "../environment.yml"}, "file", "no '..'"),
        ({"file": "requirements.txt"}, "file", ".yml or .yaml"),
        ({"file": "environment.yml", "python": "3.10"}, "python", "cannot be combined with file="),
        ({"file": "environment.yml", "packages": {"numpy": ""}}, "packages", "cannot be combined with file="),
        ({"file": "environment.yml", "pip": ["requests"]}, "pip", "cannot be combined with file="),
        ({"python": "3"}, "python", "is not a Python 3 version"),
        ({"python": "2.7"}, "python", "is not a Python 3 version"),
        ({"packages": {"num py": "1"}}, "packages", "is not a conda package name"),
        ({"packages": {"python": "3.10"}}, "packages", "python="),
        ({"packages": {"numpy": ">= 1.2"}}, "packages", "whitespace"),
        ({"channels": []}, "channels", "at least one channel"),
        ({"pip": ["--index-url https://example.org"]}, "pip", "not an option"),
        ({"platforms": ["linux-32"]}, "platforms", "unknown platform"),
        ({"platforms": []}, "platforms", "at least one platform"),
        ({"platforms": ["linux-64", "linux-64"]}, "platforms", "twice"),
        ({"materialize": "volume"}, "materialize", ""),
        ({"image_repository": "ghcr.io/acme/env:v1"}, "image_repository", "no tag"),
        ({"packges": {"numpy": ""}}, "packges", ""),
    ],
)
def test_step_level_errors_name_flow_step_decorator_and_field(keywords: dict, field: str, message: str) -> None:
    with pytest.raises(FlowDefinitionError) as caught:

        class BadFlow(Flow):
            @conda(**keywords)
            @step
            def train(self) -> None:
                pass

    error = caught.value
    assert (error.flow, error.step, error.decorator, error.field) == ("BadFlow", "train", "conda", field)
    assert message in str(error)


def test_class_level_error_names_the_flow_and_field() -> None:
    with pytest.raises(FlowDefinitionError) as caught:

        @conda(platforms=["win-32"])
        class PlatformFlow(Flow):
            pass

    assert (caught.value.flow, caught.value.step, caught.value.field) == ("PlatformFlow", None, "platforms")
    assert str(caught.value).startswith("PlatformFlow @conda.platforms:")


def test_class_default_applies_to_every_step_and_a_step_overrides_only_what_it_sets() -> None:
    @conda(python="3.11", packages={"numpy": "1.26.*"}, platforms=["linux-64", "osx-arm64"])
    class DefaultsFlow(Flow):
        @step
        def start(self) -> None:
            pass

        @conda(materialize="pvc", packages={"pandas": "2.2.*"})
        @step
        def train(self) -> None:
            pass

        @step
        def end(self) -> None:
            pass

    specs = resolve_step_specs(DefaultsFlow)
    assert specs["start"].conda == specs["end"].conda
    assert specs["start"].conda is not None and specs["start"].conda.packages == {"numpy": "1.26.*"}
    train = specs["train"].conda
    assert train is not None
    assert train.materialize == "pvc"
    assert train.packages == {"pandas": "2.2.*"}  # whole-field replacement, not a merge of the two dicts
    assert (train.python, train.platforms) == ("3.11", ["linux-64", "osx-arm64"])


def test_a_step_switches_a_file_declared_flow_to_inline_only_by_clearing_file() -> None:
    @conda(file="environment.yml")
    class FileFlow(Flow):
        @conda(file=None, python="3.12")
        @step
        def start(self) -> None:
            pass

    resolved = resolve_step_specs(FileFlow)["start"].conda
    assert resolved is not None and (resolved.file, resolved.python) == (None, "3.12")

    with pytest.raises(FlowDefinitionError) as caught:

        @conda(file="environment.yml")
        class MixedFlow(Flow):
            @conda(python="3.12")
            @step
            def start(self) -> None:
                pass

    assert (caught.value.step, caught.value.field) == ("start", "python")


def test_steps_without_any_conda_declaration_resolve_to_none() -> None:
    class PlainFlow(Flow):
        @step
        def start(self) -> None:
            pass

    assert resolve_step_specs(PlainFlow)["start"].conda is None
