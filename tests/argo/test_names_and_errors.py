"""Names are valid Kubernetes names before anything is sent; bad definitions fail naming flow, step and field."""

from __future__ import annotations

from pathlib import Path

import pytest

import flowkit
from flowkit.compiler import validate
from flowkit.compiler.layout import DagLayout, TaskLayout
from flowkit.compiler.names import check_dns_label, cron_workflow_name, dns_label, is_label_value, label_value
from flowkit.errors import FlowDefinitionError
from tests.argo.conftest import compile_manifests, linear_flow_source, load_flow_source
from tests.argo.flows import LinearFlow


def test_identifiers_become_rfc1123_labels() -> None:
    assert dns_label("TrainPipelineFlow") == "train-pipeline-flow"
    assert dns_label("join_inner") == "join-inner"
    assert dns_label("HTTPServerFlow") == "http-server-flow"
    assert dns_label("__private__") == "private"
    assert check_dns_label(dns_label("___"), what="name") is None


def test_long_names_are_truncated_deterministically_with_a_hash() -> None:
    first = dns_label("a" * 80 + "_one")
    second = dns_label("a" * 80 + "_two")
    assert len(first) == len(second) == 63
    assert first != second
    assert first == dns_label("a" * 80 + "_one")
    assert check_dns_label(first, what="name") is None
    assert len(cron_workflow_name("x" * 63)) == 52


def test_label_values_keep_case_and_fit() -> None:
    assert label_value("TrainFlow") == "TrainFlow"
    assert label_value("_step_") == "step"
    assert is_label_value(label_value("s" * 100))
    assert not is_label_value("_x")


@pytest.mark.parametrize(
    ("name", "problem"),
    [("Has_Upper", "not a valid Kubernetes name"), ("x" * 64, "at most 63"), ("-dash", "not a valid")],
)
def test_an_invalid_explicit_name_is_an_error(name: str, problem: str) -> None:
    with pytest.raises(FlowDefinitionError, match=problem) as error:
        compile_manifests(LinearFlow, name=name)
    assert (error.value.flow, error.value.decorator, error.value.field) == ("LinearFlow", "argo", "name")


def test_an_invalid_namespace_is_an_error() -> None:
    with pytest.raises(FlowDefinitionError, match="namespace") as error:
        compile_manifests(LinearFlow, namespace="Not_Valid")
    assert error.value.field == "namespace"


def test_a_step_without_an_image_is_an_error_naming_flow_step_and_field(tmp_path: Path) -> None:
    flow_cls = load_flow_source(tmp_path, linear_flow_source(1, image=None), "GeneratedFlow")
    with pytest.raises(FlowDefinitionError, match="no container image") as error:
        compile_manifests(flow_cls)
    assert (error.value.flow, error.value.step, error.value.field) == ("GeneratedFlow", "start", "image")


def test_steps_asking_for_different_namespaces_are_an_error(tmp_path: Path) -> None:
    source = """
        from flowkit import Flow, kubernetes, step

        @kubernetes(image="img:1", namespace="team-a")
        class SplitNamespaces(Flow):
            @step
            def start(self):
                self.next(self.end)

            @kubernetes(namespace="team-b")
            @step
            def end(self):
                pass
    """
    flow_cls = load_flow_source(tmp_path, source, "SplitNamespaces")
    with pytest.raises(FlowDefinitionError, match="different namespaces") as error:
        compile_manifests(flow_cls)
    assert (error.value.decorator, error.value.field) == ("kubernetes", "namespace")


def test_steps_whose_names_clash_as_kubernetes_names_are_an_error() -> None:
    dag = DagLayout(name="flow", frame=None)
    dag.tasks = [
        TaskLayout(name="train", template="t", step="train", arguments={}),
        TaskLayout(name="train", template="t", step="Train", arguments={}),
    ]
    with pytest.raises(FlowDefinitionError, match="clashes with step 'train'") as error:
        validate.check_task_names("F", [dag])
    assert error.value.step == "Train"


def test_missing_templates_and_dependencies_are_errors() -> None:
    dag = DagLayout(name="flow", frame=None)
    dag.tasks = [TaskLayout(name="a", template="missing", step="a", arguments={})]
    with pytest.raises(FlowDefinitionError, match="template 'missing'"):
        validate.check_references("F", [dag], {"task-1"})
    dag.tasks = [TaskLayout(name="a", template="task-1", step="a", arguments={}, dependencies=["ghost"])]
    with pytest.raises(FlowDefinitionError, match="ghost"):
        validate.check_references("F", [dag], {"task-1"})


def test_a_dependency_cycle_is_an_error() -> None:
    dag = DagLayout(name="flow", frame=None)
    dag.tasks = [
        TaskLayout(name="a", template="t", step="a", arguments={}, dependencies=["b"]),
        TaskLayout(name="b", template="t", step="b", arguments={}, dependencies=["a"]),
        TaskLayout(name="c", template="t", step="c", arguments={}),
    ]
    with pytest.raises(FlowDefinitionError, match=r"\['a', 'b'\].*cycle"):
        validate.check_acyclic("F", [dag])


def test_flowkit_argo_is_the_decorator_even_after_the_package_is_imported() -> None:
    import flowkit.compiler.compiler  # noqa: F401  (the compiler is loaded, as argo-create loads it)
    from flowkit import argo
    from flowkit.specs.decorators import argo as argo_decorator

    assert argo is argo_decorator

    class Decorated(LinearFlow):
        pass

    argo(parallelism=2)(Decorated)
    assert compile_manifests(Decorated)[0]["spec"]["parallelism"] == 2


def test_two_pod_specs_with_the_same_template_name_are_an_error() -> None:
    from types import SimpleNamespace

    plans = [SimpleNamespace(template_name="task-0000abcd"), SimpleNamespace(template_name="task-0000abcd")]
    with pytest.raises(FlowDefinitionError, match="same template name"):
        validate.check_template_names("F", plans)  # type: ignore[arg-type]


def test_a_claim_mounted_over_the_datastore_is_an_error() -> None:
    class Clash(LinearFlow):
        pass

    flowkit.kubernetes(pvc={"shared-data": "/flowkit"})(Clash)
    with pytest.raises(FlowDefinitionError, match="the datastore") as error:
        compile_manifests(Clash)
    assert (error.value.step, error.value.decorator, error.value.field) == ("start", "kubernetes", "pvc")
