"""`plan_pod_environment`: the image or the PVC bootstrap a conda step's pod gets, and the id it carries."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from flowkit.environments import plan_pod_environment, plan_pod_environments, pod
from flowkit.environments.declaration import environment_targets
from flowkit.environments.dockerfile import DEFAULT_BASE_IMAGE
from flowkit.environments.lockfile import read_lockfile, render_environment
from flowkit.environments.locking import lock_environment
from flowkit.environments.materialize import ENVIRONMENT_DIR
from flowkit.environments.materialize_script import EXPLICIT_FILE, PIP_FILE
from flowkit.errors import FlowDefinitionError
from flowkit.specs import resolve_step_specs
from tests.environments.conftest import FlowFactory, Standin
from tests.environments.solver_double import SolverDouble

POD_FLOW = """
@conda(python="3.10", packages={"numpy": "1.26.*"}, image_repository="ghcr.io/acme/env")
class PodFlow(Flow):
    @step
    def start(self):
        self.next(self.build)

    @conda(materialize="pvc")
    @step
    def build(self):
        self.next(self.custom)

    @kubernetes(image="ghcr.io/acme/custom:1")
    @step
    def custom(self):
        self.next(self.end)

    @step
    def end(self):
        pass


class PlainFlow(Flow):
    @step
    def start(self):
        pass


@conda(python="3.10", platforms=["osx-arm64"])
class MacFlow(Flow):
    @step
    def start(self):
        pass
"""


MOUNTS = {"datastore_mount": "/flowkit", "scripts_dir": "/scripts"}


@pytest.fixture
def locked_flow(write_flow: FlowFactory, solver: SolverDouble, mapping_url: str, standin: Standin) -> type:
    flow_cls = write_flow(POD_FLOW, class_name="PodFlow")
    (target,) = environment_targets(flow_cls)
    lock_environment(target, mapping_url=mapping_url)
    return flow_cls


def _env_id(flow_cls: type) -> str:
    (target,) = environment_targets(flow_cls)
    lockfile = read_lockfile(target.lockfile_path)
    return render_environment(lockfile, "linux-64", flow="PodFlow", step="start").env_id


def test_image_mode_runs_the_id_tagged_image_and_labels_the_pod(locked_flow: type) -> None:
    env_id = _env_id(locked_flow)
    plan = plan_pod_environment(resolve_step_specs(locked_flow)["start"], locked_flow, **MOUNTS)
    assert plan.image == f"ghcr.io/acme/env:{env_id}"
    assert (plan.command_wrapper, plan.files) == ([], None)  # the image holds the environment: nothing to build
    assert plan.env == {"FLOWKIT_ENVIRONMENT_ID": env_id}
    assert plan.labels == {"flowkit.io/environment-id": env_id[:16]}
    assert plan.annotations == {"flowkit.io/environment-id": env_id}
    assert plan.environment_id == env_id


def test_pvc_mode_wraps_the_command_with_the_mounted_materializer_and_mounts_the_explicit_files(
    locked_flow: type,
) -> None:
    env_id = _env_id(locked_flow)
    plan = plan_pod_environment(resolve_step_specs(locked_flow)["build"], locked_flow, **MOUNTS)
    assert plan.image == DEFAULT_BASE_IMAGE  # has python3 and conda; the environment comes from the PVC
    assert plan.command_wrapper == [
        "python3",
        "/scripts/materialize.py",
        "--envs-dir",
        "/flowkit/envs",
        "--env-id",
        env_id,
        "--files-dir",
        ENVIRONMENT_DIR,
        "--",
    ]
    files = plan.files
    assert files is not None and (files.name, files.mount_path) == (
        f"flowkit-environment-{env_id[:20]}",
        ENVIRONMENT_DIR,
    )
    assert files.optional  # a missing one is reported by the materializer, not a pod stuck waiting for its volume
    assert "numpy-1.26.4" in files.files[EXPLICIT_FILE] and files.files[PIP_FILE] == ""
    assert plan.env == {}  # the materializer exports the id it verified the files against
    assert plan.environment_id == env_id  # the same environment as the image steps


def test_an_explicit_kubernetes_image_wins(locked_flow: type) -> None:
    plan = plan_pod_environment(resolve_step_specs(locked_flow)["custom"], locked_flow, **MOUNTS)
    assert plan.image == "ghcr.io/acme/custom:1"
    assert plan.environment_id == _env_id(locked_flow)


def test_a_step_without_conda_gets_an_empty_plan(write_flow: FlowFactory) -> None:
    plain = write_flow(POD_FLOW, class_name="PlainFlow")
    plan = plan_pod_environment(resolve_step_specs(plain)["start"], plain, **MOUNTS)
    assert (plan.image, plan.command_wrapper, plan.env, plan.labels, plan.environment_id, plan.files) == (
        (None, [], {}, {}, None, None)
    )


def test_a_stale_or_missing_lock_stops_compilation(locked_flow: type, tmp_path: Path) -> None:
    (target,) = environment_targets(locked_flow)
    target.lockfile_path.unlink()
    with pytest.raises(FlowDefinitionError, match=r"conda-lock\.yml does not exist") as caught:
        plan_pod_environment(resolve_step_specs(locked_flow)["start"], locked_flow, **MOUNTS)
    assert (caught.value.flow, caught.value.step) == ("PodFlow", "start")


def test_pods_need_a_linux_platform(write_flow: FlowFactory) -> None:
    mac = write_flow(POD_FLOW, class_name="MacFlow")
    with pytest.raises(FlowDefinitionError) as caught:
        plan_pod_environment(resolve_step_specs(mac)["start"], mac, **MOUNTS)
    assert (caught.value.step, caught.value.field) == ("start", "platforms")
    assert "add 'linux-64'" in str(caught.value)


def test_planning_every_step_finds_the_environments_and_locks_each_once(
    locked_flow: type, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Per step, a flow of 1,000 steps in one environment re-read them 1,000 times (seconds of compile time)."""
    calls: dict[str, int] = {"environment_targets": 0, "locked_environment": 0}

    def counted(name: str) -> Callable[..., object]:
        original = getattr(pod, name)

        def call(*args: object, **kwargs: object) -> object:
            calls[name] += 1
            return original(*args, **kwargs)

        return call

    for name in calls:
        monkeypatch.setattr(pod, name, counted(name))
    specs = resolve_step_specs(locked_flow)
    plans = plan_pod_environments(locked_flow, specs, **MOUNTS)
    assert calls == {"environment_targets": 1, "locked_environment": 1}  # four steps, one environment
    assert {step: plans[step] for step in specs} == {
        step: plan_pod_environment(spec, locked_flow, **MOUNTS) for step, spec in specs.items()
    }
