"""Resolution of class-level defaults and step-level overrides into one StepSpec per step."""

from __future__ import annotations

import pytest

from flowkit import Flow, argo, catch, conda, environment, kubernetes, resources, retry, schedule, step, timeout
from flowkit.errors import FlowDefinitionError
from flowkit.specs import (
    ArgoSpec,
    CatchSpec,
    KubernetesSpec,
    RetrySpec,
    ScheduleSpec,
    TimeoutSpec,
    flow_options,
    resolve_step_specs,
)


def _linear_flow() -> type:
    @kubernetes(image="ghcr.io/acme/train:1", cpu="2", pvc={"data": "/data"}, env={"A": "1"})
    class TrainFlow:
        @step
        def start(self) -> None: ...

        @kubernetes(cpu="4", env={"B": "2"})
        @step
        def train(self) -> None: ...

        @step
        def end(self) -> None: ...

    return TrainFlow


def test_class_default_reaches_every_step_including_start_and_end() -> None:
    specs = resolve_step_specs(_linear_flow())
    assert set(specs) == {"start", "train", "end"}
    for name in ("start", "end"):
        assert specs[name].step == name
        assert specs[name].kubernetes == KubernetesSpec(
            image="ghcr.io/acme/train:1", cpu="2", pvc={"data": "/data"}, env={"A": "1"}
        )


def test_step_overrides_exactly_the_fields_it_sets() -> None:
    train = resolve_step_specs(_linear_flow())["train"].kubernetes
    assert train.cpu == "4"  # overridden
    assert train.image == "ghcr.io/acme/train:1" and train.pvc == {"data": "/data"}  # inherited
    assert train.env == {"B": "2"}  # a field is replaced as a whole, not merged into


def test_no_decorator_means_no_retry_no_timeout_and_empty_pod_settings() -> None:
    class Plain:
        @step
        def start(self) -> None: ...

    spec = resolve_step_specs(Plain)["start"]
    assert spec.retry == RetrySpec(times=0)
    assert (spec.timeout, spec.catch, spec.conda, spec.environment_vars) == (None, None, None, {})
    assert spec.kubernetes == KubernetesSpec()


def test_every_decorator_resolves_into_its_step_spec_field() -> None:
    @retry
    @timeout(hours=1)
    @environment(vars={"MODE": "prod"})
    class Flow:
        @step
        def start(self) -> None: ...

        @retry(times=1)
        @timeout(seconds=30)
        @catch(var="failure")
        @conda(python="3.11", packages={"numpy": ">=1.26"})
        @step
        def train(self) -> None: ...

    specs = resolve_step_specs(Flow)
    assert specs["start"].retry == RetrySpec(times=3)
    assert specs["train"].retry == RetrySpec(times=1)
    assert specs["start"].timeout == TimeoutSpec(hours=1)
    assert specs["train"].timeout == TimeoutSpec(seconds=30)  # one duration: replaced whole, not 1h30s
    assert specs["train"].timeout is not None and specs["train"].timeout.total_seconds == 30
    assert specs["train"].environment_vars == {"MODE": "prod"}
    assert specs["train"].catch == CatchSpec(var="failure")
    assert specs["train"].conda is not None and specs["train"].conda.packages == {"numpy": ">=1.26"}
    assert specs["start"].conda is None and specs["start"].catch is None


def test_resources_and_kubernetes_combine_by_max() -> None:
    @resources(cpu=4, memory=8192, gpu=1)
    class Flow:
        @step
        def start(self) -> None: ...

        @kubernetes(cpu="500m", memory="16Gi")
        @step
        def big_memory(self) -> None: ...

        @kubernetes(gpu=2, memory="1000Mi")
        @resources(memory="1Gi")
        @step
        def gpus(self) -> None: ...

    specs = resolve_step_specs(Flow)
    start = specs["start"].kubernetes
    assert (start.cpu, start.memory, start.gpu) == ("4", "8192Mi", 1)
    big = specs["big_memory"].kubernetes
    assert (big.cpu, big.memory, big.gpu) == ("4", "16Gi", 1)
    gpus = specs["gpus"].kubernetes
    assert (gpus.cpu, gpus.memory, gpus.gpu) == ("4", "1Gi", 2)  # "1Gi" > "1000Mi" numerically


def test_merge_conflict_fails_at_class_definition() -> None:
    with pytest.raises(FlowDefinitionError) as raised:

        @conda(file="environment.yml")
        class TrainFlow:
            @step
            def start(self) -> None: ...

            @conda(python="3.11")
            @step
            def train(self) -> None: ...

    error = raised.value
    assert (error.flow, error.step, error.decorator, error.field) == ("TrainFlow", "train", "conda", "python")
    assert "cannot be combined with file=" in error.message


def test_explicit_override_resolves_the_conflict() -> None:
    @conda(file="environment.yml")
    class TrainFlow:
        @conda(file=None, python="3.11")
        @step
        def train(self) -> None: ...

    conda_spec = resolve_step_specs(TrainFlow)["train"].conda
    assert conda_spec is not None and (conda_spec.file, conda_spec.python) == (None, "3.11")


def test_a_subclass_step_conflicting_with_an_inherited_class_default_fails_at_class_definition() -> None:
    @conda(file="environment.yml")
    class BaseFlow(Flow):
        @step
        def start(self) -> None: ...

    with pytest.raises(FlowDefinitionError) as raised:

        class TrainFlow(BaseFlow):
            @conda(python="3.11")
            @step
            def train(self) -> None: ...

    error = raised.value
    assert (error.flow, error.step, error.decorator, error.field) == ("TrainFlow", "train", "conda", "python")
    assert "cannot be combined with file='environment.yml'" in error.message


def test_a_subclass_class_decorator_still_overrides_what_would_conflict() -> None:
    @conda(file="environment.yml")
    class BaseFlow(Flow):
        @step
        def start(self) -> None: ...

    # Its own @conda runs after __init_subclass__ and replaces the inherited file, so the step's packages are fine.
    @conda(file=None, python="3.11")
    class TrainFlow(BaseFlow):
        @conda(packages={"numpy": "1.26"})
        @step
        def train(self) -> None: ...

    conda_spec = resolve_step_specs(TrainFlow)["train"].conda
    assert conda_spec is not None
    assert (conda_spec.file, conda_spec.python, conda_spec.packages) == (None, "3.11", {"numpy": "1.26"})


def test_a_subclass_class_decorator_that_keeps_the_conflict_fails_naming_the_subclass() -> None:
    @conda(file="environment.yml")
    class BaseFlow(Flow):
        @step
        def start(self) -> None: ...

    with pytest.raises(FlowDefinitionError) as raised:

        @retry(times=1)
        class TrainFlow(BaseFlow):
            @conda(python="3.11")
            @step
            def train(self) -> None: ...

    assert (raised.value.flow, raised.value.step, raised.value.field) == ("TrainFlow", "train", "python")


def test_subclasses_without_inherited_class_decorators_are_not_resolved_at_definition() -> None:
    class PlainFlow(Flow):
        @retry(times=1)
        @step
        def start(self) -> None: ...

    class SubFlow(PlainFlow):
        pass

    assert "__flowkit_step_specs__" not in vars(PlainFlow) and "__flowkit_step_specs__" not in vars(SubFlow)


def test_class_level_specs_are_inherited_along_the_mro() -> None:
    @kubernetes(image="base:1", namespace="ml")
    @retry(times=2)
    class Base:
        @step
        def start(self) -> None: ...

    @kubernetes(image="child:1")
    class Child(Base):
        @step
        def end(self) -> None: ...

    class Grandchild(Child):
        pass

    for flow_cls in (Child, Grandchild):
        specs = resolve_step_specs(flow_cls)
        for name in ("start", "end"):
            assert (specs[name].kubernetes.image, specs[name].kubernetes.namespace) == ("child:1", "ml")
            assert specs[name].retry.times == 2
    assert resolve_step_specs(Base)["start"].kubernetes.image == "base:1"


def test_resolution_is_cached_per_class_and_refreshed_by_a_class_decorator() -> None:
    class Flow:
        @step
        def start(self) -> None: ...

    class Sub(Flow):
        pass

    specs = resolve_step_specs(Flow)
    assert resolve_step_specs(Flow) is specs and vars(Flow)["__flowkit_step_specs__"] is specs
    assert "__flowkit_step_specs__" not in vars(Sub)
    assert resolve_step_specs(Sub) is not specs
    kubernetes(image="late:1")(Flow)
    assert resolve_step_specs(Flow)["start"].kubernetes.image == "late:1"


def test_flow_options() -> None:
    class Plain:
        pass

    assert flow_options(Plain) == (ArgoSpec(), None, None)

    @argo(namespace="ml", parallelism=4)
    @schedule(cron="0 3 * * *", timezone="Europe/Paris")
    class Scheduled:
        pass

    @argo(name="nightly")
    class Renamed(Scheduled):
        pass

    options = flow_options(Renamed)
    assert (options.argo.name, options.argo.namespace, options.argo.parallelism) == ("nightly", "ml", 4)
    assert options.schedule == ScheduleSpec(cron="0 3 * * *", timezone="Europe/Paris")
    assert options.project is None


def test_the_exit_handler_gets_no_flow_wide_gpu_unless_it_asks() -> None:
    @argo(on_exit="notify")
    @resources(gpu=2)
    @kubernetes(gpu=1, cpu="2")
    class GpuFlow(Flow):
        @step
        def start(self):
            self.next(self.end)

        @step
        def end(self):
            pass

        @step
        def notify(self):
            pass

    specs = resolve_step_specs(GpuFlow)
    assert (specs["start"].kubernetes.gpu, specs["end"].kubernetes.gpu) == (2, 2)
    assert specs["notify"].kubernetes.gpu == 0
    assert specs["notify"].kubernetes.cpu == "2"  # only the GPU is dropped

    @argo(on_exit="notify")
    @kubernetes(gpu=1)
    class GpuNotifyFlow(Flow):
        @step
        def start(self):
            self.next(self.end)

        @step
        def end(self):
            pass

        @resources(gpu=1)
        @step
        def notify(self):
            pass

    assert resolve_step_specs(GpuNotifyFlow)["notify"].kubernetes.gpu == 1
