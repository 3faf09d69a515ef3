"""Every pod carries its step's resolved spec, and the flow-level Argo options land where Argo reads them."""

from __future__ import annotations

import pytest

import flowkit
from flowkit.compiler.templates import DEADLINE_GRACE_SECONDS
from flowkit.graph import build_graph
from tests.argo.conftest import PACKAGE, command_option, compile_manifests, step_tasks
from tests.argo.flows import IMAGE, SHAPES, LinearFlow, OperatedFlow


def _mounts(template: dict) -> dict[str, str]:
    return {mount["name"]: mount["mountPath"] for mount in template["container"]["volumeMounts"]}


def _volumes(template: dict) -> dict[str, dict]:
    return {volume["name"]: volume for volume in template["volumes"]}


@pytest.mark.parametrize("flow_cls", SHAPES, ids=lambda flow_cls: flow_cls.__name__)
def test_every_pod_has_the_image_gpu_pvc_and_datastore(flow_cls: type) -> None:
    manifest = compile_manifests(flow_cls)[0]
    seen = set()
    for step, _, template in step_tasks(manifest):
        seen.add(step)
        container = template["container"]
        assert container["image"] == IMAGE, step
        assert container["resources"]["limits"]["nvidia.com/gpu"] == "1", step
        assert container["resources"]["requests"]["nvidia.com/gpu"] == "1", step
        volumes = _volumes(template)
        mounts = _mounts(template)
        claims = {volume["persistentVolumeClaim"]["claimName"]: mounts[name] for name, volume in volumes.items()
                  if "persistentVolumeClaim" in volume}  # fmt: skip
        assert claims == {"shared-data": "/data", "flowkit-datastore": "/flowkit"}, step
    graph = build_graph(flow_cls)
    assert {graph.start_step, graph.end_step} <= seen


def test_resources_shm_and_step_overrides() -> None:
    manifest = compile_manifests(OperatedFlow)[0]
    by_step = {step: template for step, _, template in step_tasks(manifest)}
    fetch, work = by_step["fetch"], by_step["work"]
    assert fetch["container"]["resources"]["requests"] == {"cpu": "1500m", "memory": "3Gi", "nvidia.com/gpu": "1"}
    assert fetch["container"]["resources"]["limits"] == fetch["container"]["resources"]["requests"]
    assert work["container"]["resources"]["requests"] == {"cpu": "4", "memory": "8Gi", "nvidia.com/gpu": "1"}
    assert work["nodeSelector"] == {"pool": "big"}
    assert "nodeSelector" not in fetch
    shm = _volumes(fetch)["dshm"]
    assert shm["emptyDir"] == {"medium": "Memory", "sizeLimit": "1Gi"}
    assert _mounts(fetch)["dshm"] == "/dev/shm"


def test_retry_and_timeout_become_retry_strategy_and_deadline() -> None:
    manifest = compile_manifests(OperatedFlow)[0]
    by_step = {step: template for step, _, template in step_tasks(manifest)}
    assert by_step["fetch"]["retryStrategy"] == {
        "limit": 2,
        "retryPolicy": "Always",
        "backoff": {"duration": "90s", "factor": 3},
    }
    assert command_option(by_step["fetch"], "--attempt") == ["{{retries}}"]
    # @timeout(minutes=5): the task process stops the step at 300 s; Argo's deadline is only the backstop.
    assert by_step["work"]["activeDeadlineSeconds"] == 300 + DEADLINE_GRACE_SECONDS == 360
    assert "retryStrategy" not in by_step["work"]
    # {{retries}} exists only in templates with a retryStrategy: Argo would reject it elsewhere.
    assert command_option(by_step["work"], "--attempt") == []


def test_steps_with_equal_pod_specs_share_one_template() -> None:
    manifest = compile_manifests(OperatedFlow)[0]
    used: dict[str, set[str]] = {}
    for step, _, template in step_tasks(manifest):
        used.setdefault(template["name"], set()).add(step)
    # start (parameters), fetch (retries), merge (foreach), work (deadline, bigger pod), report (exit handler),
    # and one shared template for configure, collect and end.
    assert sorted(used.values(), key=sorted) == sorted(
        [{"start"}, {"fetch"}, {"merge"}, {"work"}, {"report"}, {"configure", "collect", "end"}], key=sorted
    )


def test_flow_level_argo_options() -> None:
    manifest = compile_manifests(OperatedFlow)[0]
    spec = manifest["spec"]
    assert spec["ttlStrategy"] == {"secondsAfterCompletion": 600, "secondsAfterFailure": 3600}
    assert spec["podGC"] == {"strategy": "OnWorkflowSuccess"}
    assert spec["archiveLogs"] is True
    assert spec["parallelism"] == 3
    assert spec["serviceAccountName"] == "flowkit-runner"
    assert spec["securityContext"] == {"runAsNonRoot": True, "runAsUser": 1000}


def test_pods_run_as_non_root_unless_the_flow_opts_out() -> None:
    assert compile_manifests(LinearFlow)[0]["spec"]["securityContext"] == {"runAsNonRoot": True, "runAsUser": 1000}

    class RootFlow(LinearFlow):
        pass

    flowkit.argo(run_as_non_root=False)(RootFlow)
    assert "securityContext" not in compile_manifests(RootFlow)[0]["spec"]

    class GroupFlow(LinearFlow):
        pass

    flowkit.argo(fs_group=2000)(GroupFlow)
    assert compile_manifests(GroupFlow)[0]["spec"]["securityContext"] == {
        "runAsNonRoot": True,
        "runAsUser": 1000,
        "fsGroup": 2000,
    }


def test_labels_and_annotations_name_flow_step_package_and_version() -> None:
    manifest = compile_manifests(LinearFlow)[0]
    expected = {
        "flowkit.io/flow": "LinearFlow",
        "flowkit.io/code-package": PACKAGE.package_id[:63],
        "flowkit.io/flowkit-version": flowkit.__version__,
    }
    assert manifest["metadata"]["labels"] == expected
    assert manifest["spec"]["podMetadata"]["labels"] == expected
    assert manifest["spec"]["podMetadata"]["annotations"]["flowkit.io/code-package"] == PACKAGE.package_id
    for _, _, template in step_tasks(manifest):
        assert template["metadata"]["labels"]["flowkit.io/step"] == "{{inputs.parameters.step-label}}"
        assert template["metadata"]["annotations"]["flowkit.io/step"] == "{{inputs.parameters.step}}"


def test_pods_bootstrap_from_the_package_named_by_its_hashes() -> None:
    manifest = compile_manifests(LinearFlow)[0]
    for _, _, template in step_tasks(manifest):
        command = template["container"]["command"]
        assert command[:2] == ["python", "-c"]
        bootstrap_options = command[3 : command.index("--")]
        assert PACKAGE.archive_sha256 in bootstrap_options
        assert PACKAGE.payload_sha256 in bootstrap_options
        assert PACKAGE.package_id in bootstrap_options


def test_pod_settings_from_kubernetes_and_environment_decorators() -> None:
    class SettingsFlow(LinearFlow):
        pass

    flowkit.kubernetes(
        image="img:2",
        image_pull_policy="Always",
        service_account="trainer",
        tolerations=[{"key": "gpu", "operator": "Exists", "effect": "NoSchedule"}],
        env={"FROM_KUBERNETES": "1"},
        labels={"team": "ml"},
        annotations={"owner": "ml-team@example.com"},
        gpu_resource_name="amd.com/gpu",
        gpu=2,
    )(SettingsFlow)
    flowkit.environment(vars={"FROM_ENVIRONMENT": "2"})(SettingsFlow)
    manifest = compile_manifests(SettingsFlow)[0]
    for step, _, template in step_tasks(manifest):
        container = template["container"]
        assert container["image"] == "img:2", step
        assert container["imagePullPolicy"] == "Always"
        assert container["resources"]["limits"]["amd.com/gpu"] == "2"
        assert "nvidia.com/gpu" not in container["resources"]["limits"]
        assert {"FROM_KUBERNETES": "1", "FROM_ENVIRONMENT": "2"}.items() <= {
            variable["name"]: variable["value"] for variable in container["env"]
        }.items()
        assert template["serviceAccountName"] == "trainer"
        assert template["tolerations"] == [{"key": "gpu", "operator": "Exists", "effect": "NoSchedule"}]
        assert template["metadata"]["labels"]["team"] == "ml"
        assert template["metadata"]["annotations"]["owner"] == "ml-team@example.com"
