"""Pods: retries, deadlines, the exit handler, volumes, the python shim, and refusal of unsupported features."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.harness.conftest import Emulate
from tests.harness.manifests import DATA_MOUNT, dag, python_step, sh_step, task, workflow_template
from tests.support.argo_emulator import UnsupportedManifestFeature

pytestmark = pytest.mark.timeout(120)  # an emulator bug must fail a test, not hang the suite

FAIL_UNTIL_SECOND_RETRY = f'echo {{{{retries}}}} >> {DATA_MOUNT}/attempts; test "{{{{retries}}}}" = 2'


def _single(step: dict, **spec: Any) -> dict:
    return workflow_template(dag("main", task("only", step["name"])), step, **spec)


def test_retry_reruns_until_success(emulate: Emulate, pvc_dir: Path) -> None:
    step = sh_step("flaky", FAIL_UNTIL_SECOND_RETRY, retryStrategy={"limit": 3, "retryPolicy": "OnFailure"})
    run = emulate(_single(step))
    run.assert_succeeded()
    assert (pvc_dir / "attempts").read_text().split() == ["0", "1", "2"]
    assert [attempt.exit_code for attempt in run.node("only").attempts] == [1, 1, 0]


def test_retry_limit_exhausted_fails(emulate: Emulate, pvc_dir: Path) -> None:
    run = emulate(_single(sh_step("flaky", FAIL_UNTIL_SECOND_RETRY, retryStrategy={"limit": "1"})))
    assert run.phase == "Failed" and len(run.node("only").attempts) == 2


def test_on_error_policy_does_not_retry_a_failed_command(emulate: Emulate) -> None:
    step = sh_step("flaky", FAIL_UNTIL_SECOND_RETRY, retryStrategy={"limit": 3, "retryPolicy": "OnError"})
    assert len(emulate(_single(step)).node("only").attempts) == 1


def test_template_defaults_merge_into_container_templates(emulate: Emulate, pvc_dir: Path) -> None:
    step = sh_step("env", f"echo $A $B > {DATA_MOUNT}/env", env={"B": "own"})
    env = [{"name": "A", "value": "default"}, {"name": "B", "value": "default"}]
    defaults = {"container": {"image": "python:3.10", "env": env}}
    emulate(_single(step, templateDefaults=defaults)).assert_succeeded()
    assert (pvc_dir / "env").read_text() == "default own\n"


def test_template_default_retry_strategy_on_a_dag_is_refused(emulate: Emulate) -> None:
    manifest = _single(sh_step("flaky", "true"), templateDefaults={"retryStrategy": {"limit": 2}})
    with pytest.raises(UnsupportedManifestFeature, match="retryStrategy on a DAG template"):
        emulate(manifest)


def test_active_deadline_kills_the_pod(emulate: Emulate, pvc_dir: Path) -> None:
    step = sh_step("slow", f"touch {DATA_MOUNT}/started; sleep 30; touch {DATA_MOUNT}/finished",
                   activeDeadlineSeconds=1)  # fmt: skip
    run = emulate(_single(step))
    assert run.phase == "Failed"
    attempt = run.node("only").attempts[-1]
    assert attempt.deadline_exceeded and attempt.exit_code == 137
    assert (pvc_dir / "started").exists() and not (pvc_dir / "finished").exists()


def test_workflow_timeout_fails_the_run(emulate: Emulate) -> None:
    run = emulate(_single(sh_step("slow", "sleep 30")), timeout=1)
    assert run.phase == "Failed" and run.message == "workflow deadline exceeded"


@pytest.mark.parametrize(("script", "status"), [("true", "Succeeded"), ("exit 1", "Failed")])
def test_exit_handler_sees_workflow_status(emulate: Emulate, pvc_dir: Path, script: str, status: str) -> None:
    manifest = workflow_template(
        dag("main", task("work", "work")),
        sh_step("work", script),
        sh_step("notify", f"echo '{{{{workflow.status}}}}' > {DATA_MOUNT}/status"),
        onExit="notify",
    )
    run = emulate(manifest)
    assert (pvc_dir / "status").read_text() == f"{status}\n"
    assert run.phase == status and run.node("onExit").phase == "Succeeded"


def test_failing_exit_handler_fails_the_run(emulate: Emulate) -> None:
    manifest = workflow_template(
        dag("main", task("work", "work")), sh_step("work", "true"), sh_step("notify", "exit 2"), onExit="notify"
    )
    assert emulate(manifest).phase == "Failed"


def test_pvc_and_empty_dir_volumes(emulate: Emulate, pvc_dir: Path) -> None:
    script = (
        f"echo data > {DATA_MOUNT}/file; ls /dev/shm > {DATA_MOUNT}/shm-before-$SLOT; touch /dev/shm/mine; "
        f"mkdir -p {DATA_MOUNT}/sub && echo nested > {DATA_MOUNT}/sub/n"
    )
    step = sh_step("write", script, inputs=("slot",), env={"SLOT": "{{inputs.parameters.slot}}"})
    step["container"]["volumeMounts"].append({"name": "shm", "mountPath": "/dev/shm"})
    step["container"]["volumeMounts"].append({"name": "data", "mountPath": "/opt/harness-ro", "readOnly": True})
    manifest = workflow_template(
        dag("main", task("one", "write", arguments={"slot": "1"}), task("two", "write", depends="one",
                                                                     arguments={"slot": "2"})),
        step,
        volumes=[{"name": "data", "persistentVolumeClaim": {"claimName": "harness-data"}},
                 {"name": "shm", "emptyDir": {"medium": "Memory", "sizeLimit": "64Mi"}}],
    )  # fmt: skip
    emulate(manifest).assert_succeeded()
    assert (pvc_dir / "file").read_text() == "data\n" and (pvc_dir / "sub" / "n").read_text() == "nested\n"
    assert (pvc_dir / "shm-before-2").read_text() == "", "an emptyDir must be fresh in every pod"
    assert not Path("/dev/shm/mine").exists() and not Path("/opt/harness-ro").exists()


def test_a_config_map_volume_shows_its_keys_read_only_with_the_default_mode(emulate: Emulate, pvc_dir: Path) -> None:
    script = (
        f"cat /opt/scripts/hello.sh > {DATA_MOUNT}/read; stat -c %a /opt/scripts/hello.sh > {DATA_MOUNT}/mode; "
        f"touch /opt/scripts/new 2> {DATA_MOUNT}/refused || true"
    )
    step = sh_step("read", script)
    step["container"]["volumeMounts"].append({"name": "scripts", "mountPath": "/opt/scripts"})
    step["volumes"] = [{"name": "scripts", "configMap": {"name": "harness-scripts", "defaultMode": 0o444}}]
    config_map = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "harness-scripts"},
                  "data": {"hello.sh": "echo hello\n"}}  # fmt: skip
    emulate(_single(step), config_maps=[config_map]).assert_succeeded()
    assert (pvc_dir / "read").read_text() == "echo hello\n"
    assert (pvc_dir / "mode").read_text() == "444\n"
    assert "Read-only file system" in (pvc_dir / "refused").read_text()

    with pytest.raises(ValueError, match="configMap 'harness-scripts' does not exist"):
        emulate(_single(step))  # the kubelet never starts a pod whose ConfigMap is missing


def test_an_optional_config_map_that_is_missing_mounts_an_empty_directory(emulate: Emulate, pvc_dir: Path) -> None:
    step = sh_step("list", f"ls -A /opt/scripts > {DATA_MOUNT}/listing")
    step["container"]["volumeMounts"].append({"name": "scripts", "mountPath": "/opt/scripts"})
    step["volumes"] = [{"name": "scripts", "configMap": {"name": "harness-scripts", "optional": True}}]
    emulate(_single(step)).assert_succeeded()
    assert (pvc_dir / "listing").read_text() == ""


def test_read_only_mount_rejects_writes(emulate: Emulate, pvc_dir: Path) -> None:
    step = sh_step("write", "touch /opt/harness-ro/x")
    step["container"]["volumeMounts"] = [{"name": "data", "mountPath": "/opt/harness-ro", "readOnly": True}]
    run = emulate(_single(step))
    assert run.phase == "Failed" and "Read-only file system" in run.node("only").stderr
    assert not (pvc_dir / "x").exists()


def test_each_pod_has_a_private_tmp(emulate: Emulate, pvc_dir: Path, tmp_path: Path) -> None:
    marker = f"/tmp/harness-private-{tmp_path.name}"
    manifest = workflow_template(
        dag("main", task("write", "write"), task("look", "look", depends="write")),
        sh_step("write", f"touch {marker}"),
        sh_step("look", f"if [ -e {marker} ]; then echo shared > {DATA_MOUNT}/seen; fi"),
    )
    emulate(manifest).assert_succeeded()
    assert not (pvc_dir / "seen").exists() and not Path(marker).exists()


def test_python_resolves_to_the_given_interpreter(emulate: Emulate, pvc_dir: Path, tmp_path: Path) -> None:
    """The interpreter stays visible to pods even when it lives under the host's /tmp."""
    interpreter = tmp_path / "interpreter" / "bin" / "python"
    interpreter.parent.mkdir(parents=True)
    interpreter.symlink_to(os.path.realpath(sys.executable))
    step = python_step("which", f"import sys; open('{DATA_MOUNT}/python', 'w').write(sys.executable)")
    emulate(_single(step), python=str(interpreter)).assert_succeeded()
    assert (pvc_dir / "python").read_text() == str(interpreter)


@pytest.mark.parametrize(
    ("template_fields", "feature"),
    [
        ({"script": {"image": "python", "source": "print(1)"}}, "only container and dag templates"),
        ({"steps": [[{"name": "a", "template": "b"}]]}, "only container and dag templates"),
        ({"dag": {"tasks": [{"name": "a", "template": "b", "continueOn": {"failed": True}}]}}, "continueOn"),
        ({"dag": {"tasks": [{"name": "a", "template": "b", "depends": "x.Failed"}]}}, "depends"),
    ],
)
def test_unsupported_features_are_refused_before_running(
    emulate: Emulate, pvc_dir: Path, template_fields: dict, feature: str
) -> None:
    manifest = workflow_template(
        dag("main", task("touch", "touch"), task("odd", "odd", depends="touch")),
        sh_step("touch", f"touch {DATA_MOUNT}/ran"),
        {"name": "odd", **template_fields},
        sh_step("b", "true"),
    )
    with pytest.raises(UnsupportedManifestFeature, match=feature):
        emulate(manifest)
    assert not (pvc_dir / "ran").exists()


def test_bare_interpreter_name_is_looked_up_on_path(emulate: Emulate, pvc_dir: Path) -> None:
    step = python_step("which", f"import sys; open('{DATA_MOUNT}/python', 'w').write(sys.executable)")
    emulate(_single(step), python="python3").assert_succeeded()
    # The interpreter on PATH may be a launcher (a pyenv shim, say) that execs another binary, so compare with
    # what `python3` from PATH reports about itself rather than with the path of the launcher.
    on_path = subprocess.run(
        ["python3", "-c", "import sys; print(sys.executable)"], check=True, capture_output=True, text=True
    ).stdout.strip()
    assert (pvc_dir / "python").read_text() == on_path


def test_working_dir_and_sub_path(emulate: Emulate, pvc_dir: Path) -> None:
    step = sh_step("where", f"pwd > {DATA_MOUNT}/cwd; echo sub > /opt/harness-sub/file")
    step["container"]["workingDir"] = "/harness-working-dir"
    step["container"]["volumeMounts"].append({"name": "data", "mountPath": "/opt/harness-sub", "subPath": "nested/dir"})
    emulate(_single(step)).assert_succeeded()
    assert (pvc_dir / "cwd").read_text() == "/harness-working-dir\n"
    assert (pvc_dir / "nested" / "dir" / "file").read_text() == "sub\n"
    assert not Path("/harness-working-dir").exists() and not Path("/opt/harness-sub").exists()
