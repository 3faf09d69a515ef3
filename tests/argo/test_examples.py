"""Every example flow compiles to schema-valid manifests whose every pod carries the class-level pod spec."""

from __future__ import annotations

from pathlib import Path

import pytest

from flowkit.cli.main import load_flow_class
from flowkit.compiler.templates import STARTUP_ALLOWANCE_SECONDS
from flowkit.specs import KubernetesSpec, flow_options
from flowkit.specs.resolve import class_level_specs
from tests.argo.conftest import EXAMPLE_FILES, EXAMPLES, compile_manifests, pod_volumes, step_tasks
from tests.support.argo_schema import validate_manifest


def test_the_examples_are_found() -> None:
    names = {path.name for path in EXAMPLE_FILES}
    assert {"train_pipeline.py", "branch.py", "hello.py"} <= names


@pytest.mark.parametrize("path", EXAMPLE_FILES, ids=lambda path: str(path.relative_to(EXAMPLES)))
def test_example_compiles_and_every_pod_carries_the_class_level_spec(path: Path) -> None:
    flow_cls = load_flow_class(str(path))
    manifests = compile_manifests(flow_cls)
    for manifest in manifests:
        validate_manifest(manifest)
    class_spec = class_level_specs(flow_cls).get("kubernetes", KubernetesSpec())
    assert isinstance(class_spec, KubernetesSpec)
    exit_handler = flow_options(flow_cls).argo.on_exit
    steps = set()
    for step, _, template in step_tasks(manifests[0]):
        steps.add(step)
        container = template["container"]
        if class_spec.image is not None:
            assert container["image"] == class_spec.image, step
        assert container["image"], step
        if class_spec.gpu and step != exit_handler:  # the exit handler takes no flow-wide GPU
            assert container["resources"]["limits"][class_spec.gpu_resource_name] == str(class_spec.gpu), step
        claims = {
            volume["persistentVolumeClaim"]["claimName"]: volume["name"]
            for volume in pod_volumes(manifests[0], template).values()
            if "persistentVolumeClaim" in volume
        }
        mounts = {mount["name"]: mount["mountPath"] for mount in container["volumeMounts"]}
        for claim, mount_path in class_spec.pvc.items():
            assert mounts[claims[claim]] == mount_path, step
    assert {"start", "end"} <= steps


def test_the_train_pipeline_has_what_our_users_asked_for() -> None:
    flow_cls = load_flow_class(str(EXAMPLES / "train_pipeline.py"))
    (manifest,) = compile_manifests(flow_cls)
    spec = manifest["spec"]
    assert spec["ttlStrategy"] == {"secondsAfterCompletion": 86400}
    assert spec["archiveLogs"] is True
    assert spec["onExit"] == "on-exit"
    by_step = {step: template for step, _, template in step_tasks(manifest)}
    assert by_step["start"]["container"]["image"] == "continuumio/miniconda3:23.3.1-0"
    assert by_step["train"]["retryStrategy"]["backoff"] == {"duration": "30s", "factor": 2}
    assert by_step["train"]["activeDeadlineSeconds"] == 1800 + STARTUP_ALLOWANCE_SECONDS
    assert by_step["train"]["container"]["resources"]["limits"]["nvidia.com/gpu"] == "1"
    assert by_step["prepare_data"]["retryStrategy"]["limit"] == 3
    fan_outs = [task for template in spec["templates"] for task in template.get("dag", {}).get("tasks", [])
                if "withParam" in task]  # fmt: skip
    assert [task["template"] for task in fan_outs] == ["body-plan"]
