"""Every pod carries its step's resolved spec, and the flow-level Argo options land where Argo reads them."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

import flowkit
from flowkit.compiler.templates import STARTUP_ALLOWANCE_SECONDS
from flowkit.graph import build_graph
from flowkit.packaging.bootstrap import bootstrap_files, interpreter_command
from flowkit.packaging.bootstrap_script import EXIT_BOOTSTRAP_FAILED
from tests.argo.conftest import PACKAGE, command_option, compile_manifests, pod_volumes, step_tasks
from tests.argo.flows import IMAGE, SHAPES, BranchFlow, LinearFlow, OperatedFlow, OwnHomeFlow


def _mounts(template: dict) -> dict[str, str]:
    return {mount["name"]: mount["mountPath"] for mount in template["container"]["volumeMounts"]}


@pytest.mark.parametrize("flow_cls", SHAPES, ids=lambda flow_cls: flow_cls.__name__)
def test_every_pod_has_the_image_gpu_pvc_and_datastore(flow_cls: type) -> None:
    manifest = compile_manifests(flow_cls)[0]
    exit_handler = flowkit.specs.flow_options(flow_cls).argo.on_exit
    seen = set()
    for step, _, template in step_tasks(manifest):
        seen.add(step)
        container = template["container"]
        assert container["image"] == IMAGE, step
        # The flow-wide GPU is every step's but the exit handler's, which only reports.
        gpus = None if step == exit_handler else "1"
        assert container["resources"]["limits"].get("nvidia.com/gpu") == gpus, step
        assert container["resources"]["requests"].get("nvidia.com/gpu") == gpus, step
        volumes = pod_volumes(manifest, template)
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
    # The 1Gi memory-backed /dev/shm is charged to the container: it comes on top of the memory asked for.
    assert fetch["container"]["resources"]["requests"] == {"cpu": "1500m", "memory": "4Gi", "nvidia.com/gpu": "1"}
    assert fetch["container"]["resources"]["limits"] == fetch["container"]["resources"]["requests"]
    assert work["container"]["resources"]["requests"] == {"cpu": "4", "memory": "9Gi", "nvidia.com/gpu": "1"}
    assert work["nodeSelector"] == {"pool": "big"}
    assert "nodeSelector" not in fetch
    shm = pod_volumes(manifest, fetch)["dshm"]
    assert shm["emptyDir"] == {"medium": "Memory", "sizeLimit": "1Gi"}
    assert _mounts(fetch)["dshm"] == "/dev/shm"


def test_retry_and_timeout_become_retry_strategy_and_deadline() -> None:
    manifest = compile_manifests(OperatedFlow)[0]
    by_step = {step: template for step, _, template in step_tasks(manifest)}
    assert by_step["fetch"]["retryStrategy"] == {
        "limit": 2,
        "retryPolicy": "Always",
        "backoff": {"duration": "90s", "factor": 3},
        # Neither a bootstrap failure (3) nor an unwritable datastore (77) is the step's failure: not retried.
        "expression": 'lastRetry.exitCode != "3" && lastRetry.exitCode != "77"',
    }
    assert command_option(by_step["fetch"], "--attempt") == ["{{retries}}"]
    # @timeout(minutes=5): the task process stops the step at 300 s; Argo's deadline is only the backstop.
    assert by_step["work"]["activeDeadlineSeconds"] == 300 + STARTUP_ALLOWANCE_SECONDS
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
    assert "imagePullSecrets" not in spec


RESTRICTED_POD = {
    "runAsNonRoot": True,
    "runAsUser": 1000,
    "fsGroup": 1000,
    "fsGroupChangePolicy": "OnRootMismatch",
    "seccompProfile": {"type": "RuntimeDefault"},
}


def test_pods_are_restricted_with_a_volume_group_by_default() -> None:
    manifest = compile_manifests(LinearFlow)[0]
    assert manifest["spec"]["securityContext"] == RESTRICTED_POD
    for step, _, template in step_tasks(manifest):
        assert template["container"]["securityContext"] == {
            "allowPrivilegeEscalation": False,
            "capabilities": {"drop": ["ALL"]},
        }, step


def test_security_options_change_the_pod_security_context() -> None:
    class RootFlow(LinearFlow):
        pass

    flowkit.argo(run_as_non_root=False)(RootFlow)
    assert compile_manifests(RootFlow)[0]["spec"]["securityContext"] == {
        "fsGroup": 1000,
        "fsGroupChangePolicy": "OnRootMismatch",
        "seccompProfile": {"type": "RuntimeDefault"},
    }

    class GroupFlow(LinearFlow):
        pass

    flowkit.argo(fs_group=2000, run_as_user=2001)(GroupFlow)
    assert compile_manifests(GroupFlow)[0]["spec"]["securityContext"] == {
        **RESTRICTED_POD,
        "runAsUser": 2001,
        "fsGroup": 2000,
    }

    class OpenShiftFlow(LinearFlow):
        pass

    # OpenShift's restricted-v2 assigns the uid and fsGroup from the namespace's range and refuses others.
    flowkit.argo(cluster_assigns_ids=True)(OpenShiftFlow)
    assert compile_manifests(OpenShiftFlow)[0]["spec"]["securityContext"] == {
        "runAsNonRoot": True,
        "seccompProfile": {"type": "RuntimeDefault"},
    }


def test_pull_secrets_reach_every_pod() -> None:
    class PrivateRegistryFlow(LinearFlow):
        pass

    flowkit.argo(image_pull_secrets=["registry-a", "registry-b"])(PrivateRegistryFlow)
    spec = compile_manifests(PrivateRegistryFlow)[0]["spec"]
    assert spec["imagePullSecrets"] == [{"name": "registry-a"}, {"name": "registry-b"}]


def test_a_step_without_requests_gets_metaflows_defaults() -> None:
    manifest = compile_manifests(BranchFlow)[0]
    for step, _, template in step_tasks(manifest):
        resources = template["container"]["resources"]
        assert resources["requests"]["cpu"] == "1" and resources["requests"]["memory"] == "4Gi", step
        assert resources["limits"] == resources["requests"], step


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
        # The image's python3, else python, found by a shell script that names the image and the step if neither.
        # Both scripts are files of the mounted bootstrap ConfigMap, never text on the command line.
        assert command[:5] == ["/bin/sh", "/flowkit-bootstrap/find-python.sh", IMAGE, "{{inputs.parameters.step}}",
                               "/flowkit-bootstrap/bootstrap.py"]  # fmt: skip
        bootstrap_options = command[5 : command.index("--")]
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


def test_a_whole_float_backoff_factor_is_emitted_as_the_integer_argo_parses() -> None:
    class WholeFactorFlow(LinearFlow):
        @flowkit.retry(times=1, backoff_factor=2.0)
        @flowkit.step
        def middle(self):
            self.next(self.end)

    by_step = {step: template for step, _, template in step_tasks(compile_manifests(WholeFactorFlow)[0])}
    assert by_step["middle"]["retryStrategy"]["backoff"]["factor"] == 2


def test_the_upload_pod_is_placed_and_pulled_like_the_flows_pods() -> None:
    from flowkit.deploy.api import upload_pod_spec

    class PlacedFlow(LinearFlow):
        pass

    toleration = {"key": "dedicated", "operator": "Equal", "value": "ml", "effect": "NoSchedule"}
    flowkit.kubernetes(node_selector={"pool": "ml"}, tolerations=[toleration])(PlacedFlow)
    flowkit.argo(upload_image="mirror.internal/busybox:1.36", image_pull_secrets=["mirror"])(PlacedFlow)
    pod = upload_pod_spec(PlacedFlow)
    assert (pod.image, pod.image_pull_secrets) == ("mirror.internal/busybox:1.36", ("mirror",))
    assert (pod.node_selector, pod.tolerations) == ({"pool": "ml"}, [toleration])


def test_every_pod_has_a_writable_home_tmpdir_and_working_directory() -> None:
    """A non-root uid on a stock image has HOME=/ and cwd /, neither writable: each pod gets emptyDirs instead;
    a step's own @kubernetes(env=...) still wins."""
    manifest = compile_manifests(OperatedFlow)[0]
    for step, _, template in step_tasks(manifest):
        container = template["container"]
        env = {variable["name"]: variable["value"] for variable in container["env"]}
        assert (env["HOME"], env["TMPDIR"], container["workingDir"]) == ("/home/flowkit", "/tmp", "/home/flowkit")
        volumes, mounts = pod_volumes(manifest, template), _mounts(template)
        assert (volumes["flowkit-home"]["emptyDir"], mounts["flowkit-home"]) == ({}, "/home/flowkit"), step
        assert (volumes["flowkit-tmp"]["emptyDir"], mounts["flowkit-tmp"]) == ({}, "/tmp"), step
    overridden = compile_manifests(OwnHomeFlow)[0]
    for _, _, template in step_tasks(overridden):
        assert {"name": "HOME", "value": "/data/home"} in template["container"]["env"]


def test_a_step_names_its_interpreter_and_keeps_its_image() -> None:
    class CondaPythonFlow(LinearFlow):
        pass

    flowkit.kubernetes(image="continuumio/miniconda3:23.3.1-0", python="/opt/conda/bin/python")(CondaPythonFlow)
    for _, _, template in step_tasks(compile_manifests(CondaPythonFlow)[0]):
        assert template["container"]["command"][:2] == ["/opt/conda/bin/python", "/flowkit-bootstrap/bootstrap.py"]


def test_an_image_without_python_fails_in_one_line_naming_image_and_step(tmp_path: Path) -> None:
    """The launcher as the kubelet would run it on an image with neither python3 nor python on PATH."""
    mounted = tmp_path / "bootstrap-config-map"
    mounted.mkdir()
    for name, text in bootstrap_files().files.items():
        (mounted / name).write_text(text, encoding="utf-8")
    command = interpreter_command(None, image="debian:12-slim", step="train", scripts_dir=str(mounted))
    empty_path = tmp_path / "bin"
    empty_path.mkdir()
    result = subprocess.run(
        [*command, "-c", "pass"], env={"PATH": str(empty_path)}, capture_output=True, text=True, check=False
    )
    assert result.returncode == EXIT_BOOTSTRAP_FAILED
    assert result.stderr.splitlines() == [
        "flowkit bootstrap: the image debian:12-slim has no python3 or python on its PATH (step train): use an image "
        "with CPython 3.10 or newer, or name its interpreter with @kubernetes(python=...)"
    ]
    found = subprocess.run(
        [*command, "-c", "import sys; print(sys.argv[1:])", "a b"], capture_output=True, text=True, check=True
    )
    assert found.stdout == "['a b']\n", "the arguments reach the interpreter untouched"
