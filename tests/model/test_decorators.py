"""Spec decorators: both call forms, order independence, and errors at decoration time naming every coordinate."""

from __future__ import annotations

from typing import Any

import pytest

from flowkit import argo, catch, conda, environment, kubernetes, resources, retry, schedule, step, timeout
from flowkit.authoring.step import declared_class_specs, declared_step_specs, find_steps, is_step
from flowkit.errors import FlowDefinitionError
from flowkit.specs import RetrySpec
from flowkit.specs.decorators import spec_decorator


def test_bare_and_called_forms() -> None:
    class TrainFlow:
        @retry
        @step
        def bare(self) -> None: ...

        @retry()
        @step
        def empty_call(self) -> None: ...

        @retry(times=1, minutes_between_retries=0.5)
        @step
        def called(self) -> None: ...

    assert declared_step_specs(TrainFlow.bare)["retry"] == RetrySpec(times=3)
    assert declared_step_specs(TrainFlow.empty_call)["retry"] == RetrySpec(times=3)
    assert declared_step_specs(TrainFlow.called)["retry"] == RetrySpec(times=1, minutes_between_retries=0.5)


def test_decorators_return_the_function_in_any_order() -> None:
    def train(self: Any) -> None: ...

    above = retry(times=2)(step(train))
    assert above is train and is_step(train)

    def evaluate(self: Any) -> None: ...

    below = step(timeout(minutes=1)(evaluate))
    assert below is evaluate and is_step(evaluate) and set(declared_step_specs(evaluate)) == {"timeout"}


def test_find_steps_follows_the_mro() -> None:
    class Base:
        @step
        def start(self) -> None: ...

        @step
        def shared(self) -> None: ...

    class Child(Base):
        shared = None  # type: ignore[assignment]  # no longer a step

        @step
        def extra(self) -> None: ...

    assert set(find_steps(Child)) == {"start", "extra"}
    assert not is_step(Base.__dict__["start"].__get__(Base()))  # a bound method is not the marked function


def test_class_level_specs_stay_on_their_own_class() -> None:
    @kubernetes(image="python:3.11")
    class Base:
        @step
        def start(self) -> None: ...

    class Child(Base):
        pass

    assert set(declared_class_specs(Base)) == {"kubernetes"}
    assert declared_class_specs(Child) == {}


STEP_ERRORS: list[tuple[Any, dict[str, Any], str | None, str]] = [
    (kubernetes, {"gpu": -1}, "gpu", "must be >= 0"),
    (kubernetes, {"gpu": True}, "gpu", "not a boolean"),
    (kubernetes, {"memory": "lots"}, "memory", "not a Kubernetes quantity"),
    (kubernetes, {"memory": 1.5}, "memory", "must be an integer"),
    (kubernetes, {"memory": 0}, "memory", "greater than zero"),
    (kubernetes, {"cpu": "2 cores"}, "cpu", "not a Kubernetes quantity"),
    (kubernetes, {"shared_memory": "1GB"}, "shared_memory", "not a Kubernetes quantity"),
    (kubernetes, {"disk": "-1Gi"}, "disk", "greater than zero"),
    (kubernetes, {"pvc": {"data": "data"}}, "pvc", "must be absolute"),
    (kubernetes, {"pvc": {"data": "/a/../b"}}, "pvc", "must not contain '..'"),
    (kubernetes, {"pvc": {"data": "/"}}, "pvc", "root"),
    (kubernetes, {"pvc": {"a": "/data", "b": "/data/"}}, "pvc", "both mounted at '/data'"),
    (kubernetes, {"pvc": {"Bad_Claim": "/data"}}, "pvc", "not a valid Kubernetes name"),
    (kubernetes, {"persistent_volume_claims": {"a": "x"}}, "persistent_volume_claims", "must be absolute"),
    (kubernetes, {"pvc": {"a": "/x"}, "persistent_volume_claims": {"b": "/y"}}, "pvc", "not both"),
    (kubernetes, {"imagee": "python"}, "imagee", "unknown keyword"),
    (kubernetes, {"image": "python 3"}, "image", "not an image reference"),
    (kubernetes, {"image_pull_policy": "Sometimes"}, "image_pull_policy", "'Always', 'IfNotPresent' or 'Never'"),
    (kubernetes, {"gpu_vendor": "intel"}, "gpu_vendor", "not one of"),
    (kubernetes, {"gpu_vendor": "amd", "gpu_resource_name": "nvidia.com/gpu"}, "gpu_vendor", "contradicts"),
    (kubernetes, {"env": {"1BAD": "x"}}, "env", "'1BAD' is not a valid name"),
    (kubernetes, {"env": {"GOOD": 1}}, "env", "valid string"),
    (kubernetes, {"labels": {"team/": "x"}}, "labels", "label key"),
    (kubernetes, {"labels": {"-bad": "x"}}, "labels", "label key '-bad'"),
    (kubernetes, {"labels": {"team": "x" * 64}}, "labels", "at most 63 characters"),
    (kubernetes, {"node_selector": {"Bad Prefix/zone": "a"}}, "node_selector", "invalid prefix"),
    (kubernetes, {"annotations": {"no spaces": "fine value"}}, "annotations", "annotation key"),
    (kubernetes, {"namespace": "Team_A"}, "namespace", "not a valid RFC 1123 label"),
    (kubernetes, {"service_account": "my account"}, "service_account", "not a valid Kubernetes name"),
    (kubernetes, {"tolerations": [{"key": "gpu", "operator": "Maybe"}]}, "tolerations", "[0]['operator']"),
    (kubernetes, {"tolerations": [{"key": "gpu", "effect": "Never"}]}, "tolerations", "'NoSchedule'"),
    (kubernetes, {"tolerations": [{"key": "k", "operator": "Exists", "value": "v"}]}, "tolerations", "Exists"),
    (kubernetes, {"tolerations": [{"key": "k", "toleration_seconds": 5}]}, "tolerations", "NoExecute"),
    (kubernetes, {"tolerations": [{"value": "v"}]}, "tolerations", "without a key"),
    (kubernetes, {"tolerations": [{"key": "k", "colour": "red"}]}, "tolerations", "[0]['colour']"),
    (resources, {"gpu": -1}, "gpu", "must be >= 0"),
    (resources, {"memory": "lots"}, "memory", "not a Kubernetes quantity"),
    (resources, {"cpu": True}, "cpu", "not a boolean"),
    (retry, {"times": -1}, "times", "must be >= 0"),
    (retry, {"times": "often"}, "times", "valid integer"),
    (retry, {"minutes_between_retries": -1}, "minutes_between_retries", "must be >= 0"),
    (retry, {"backoff_factor": 0}, "backoff_factor", "must be >= 1"),
    (retry, {"backoff_factor": 1.5}, "backoff_factor", "Argo only accepts an integer backoff factor"),
    (retry, {"backoff_factor": True}, "backoff_factor", "not a boolean"),
    (retry, {"attempts": 2}, "attempts", "unknown keyword (accepted: backoff_factor, minutes_between_retries, times)"),
    (timeout, {}, None, "longer than zero"),
    (timeout, {"seconds": -5}, "seconds", "must be >= 0"),
    (timeout, {"days": 1}, "days", "unknown keyword"),
    (environment, {"vars": {"MY-VAR": "1"}}, "vars", "'MY-VAR' is not a valid name"),
    (catch, {"var": "1st"}, "var", "must be an artifact name"),
    (catch, {"var": "_hidden"}, "var", "must be an artifact name"),
    (conda, {"python": "2.7"}, "python", "not a Python 3 version"),
]


@pytest.mark.parametrize(("decorator", "fields", "field", "message"), STEP_ERRORS)
def test_step_decorator_errors_name_flow_step_decorator_and_field(
    decorator: Any, fields: dict[str, Any], field: str | None, message: str
) -> None:
    with pytest.raises(FlowDefinitionError) as raised:

        class TrainFlow:
            @decorator(**fields)
            @step
            def train(self) -> None: ...

    error = raised.value
    assert (error.flow, error.step, error.decorator, error.field) == ("TrainFlow", "train", decorator.name, field)
    assert message in error.message
    assert error.lineno is not None and f"TrainFlow.train (line {error.lineno}) @{decorator.name}" in str(error)


@pytest.mark.parametrize(
    ("decorator", "fields", "field", "message"),
    [
        (kubernetes, {"gpu": -1}, "gpu", "must be >= 0"),
        (retry, {"times": -1}, "times", "must be >= 0"),
        (argo, {"pod_gc": "Sometimes"}, "pod_gc", "OnPodCompletion"),
        (argo, {"parallelism": 0}, "parallelism", "must be >= 1"),
        (schedule, {"cron": "* * * *"}, "cron", "must have 5 fields"),
        (schedule, {}, "cron", "Field required"),
    ],
)
def test_class_decorator_errors_name_flow_decorator_and_field(
    decorator: Any, fields: dict[str, Any], field: str, message: str
) -> None:
    with pytest.raises(FlowDefinitionError) as raised:

        @decorator(**fields)
        class TrainFlow:
            @step
            def start(self) -> None: ...

    error = raised.value
    assert (error.flow, error.step, error.decorator, error.field) == ("TrainFlow", None, decorator.name, field)
    assert message in error.message


@pytest.mark.parametrize("decorator", [argo, schedule])
def test_flow_only_decorators_refuse_steps(decorator: Any) -> None:
    with pytest.raises(FlowDefinitionError, match="flow class only") as raised:

        class TrainFlow:
            @decorator
            @step
            def start(self) -> None: ...

    assert (raised.value.flow, raised.value.step, raised.value.decorator) == ("TrainFlow", "start", decorator.name)


def test_step_only_decorator_refuses_classes() -> None:
    per_step = spec_decorator("per_step", RetrySpec, class_level=False)
    with pytest.raises(FlowDefinitionError, match="step only") as raised:

        @per_step
        class TrainFlow:
            pass

    assert (raised.value.flow, raised.value.decorator) == ("TrainFlow", "per_step")


def test_decorator_applied_twice() -> None:
    with pytest.raises(FlowDefinitionError, match="applied twice") as raised:

        class TrainFlow:
            @retry(times=1)
            @retry(times=2)
            @step
            def train(self) -> None: ...

    assert (raised.value.step, raised.value.decorator) == ("train", "retry")
    with pytest.raises(FlowDefinitionError, match="applied twice to the class"):

        @kubernetes(image="a")
        @kubernetes(image="b")
        class Other:
            pass


def test_positional_arguments_are_refused() -> None:
    with pytest.raises(TypeError, match="decorates a flow class or a step function"):
        retry(2)  # type: ignore[call-overload]
    with pytest.raises(TypeError, match="keyword arguments only"):
        retry(lambda self: None, times=2)  # type: ignore[call-overload]
