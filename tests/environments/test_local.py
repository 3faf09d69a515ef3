"""`run --environment conda` on this machine: the same environment (same id) under the datastore's envs/."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from flowkit.environments import plan_pod_environment
from flowkit.environments.declaration import environment_targets
from flowkit.environments.local import current_platform, ensure_local_environment
from flowkit.environments.locking import lock_environment
from flowkit.errors import FlowDefinitionError, FlowkitError
from flowkit.specs import resolve_step_specs
from tests.environments.conftest import INLINE_FLOW, FlowFactory, Standin
from tests.environments.solver_double import SolverDouble


@pytest.fixture
def locked_flow(write_flow: FlowFactory, solver: SolverDouble, mapping_url: str, standin: Standin) -> type:
    flow_cls = write_flow(INLINE_FLOW, class_name="InlineFlow")
    (target,) = environment_targets(flow_cls)
    lock_environment(target, mapping_url=mapping_url)
    return flow_cls


@pytest.mark.skipif(current_platform() != "linux-64", reason="compares with the pods' linux-64 environment")
def test_builds_once_under_the_datastore_and_shares_the_pods_id(
    locked_flow: type, standin: Standin, tmp_path: Path
) -> None:
    specs = resolve_step_specs(locked_flow)
    root = tmp_path / "datastore"
    first = ensure_local_environment(locked_flow, specs["start"], datastore_root=root)
    assert first.python == root / "envs" / first.env_id / "bin" / "python"
    ran = subprocess.run([str(first.python), "-c", "print('inside')"], capture_output=True, text=True, timeout=60)
    assert ran.stdout == "inside\n"
    again = ensure_local_environment(locked_flow, specs["train"], datastore_root=root)
    assert again == first
    assert len(standin.creates()) == 1
    pod = plan_pod_environment(specs["train"], locked_flow, datastore_mount="/flowkit", scripts_dir="/scripts")
    assert pod.environment_id == first.env_id


def test_datastore_root_defaults_to_the_environment_variable(
    locked_flow: type, standin: Standin, datastore_root: Path
) -> None:
    local = ensure_local_environment(locked_flow, resolve_step_specs(locked_flow)["start"])
    assert local.python.is_relative_to(datastore_root / "envs")


def test_with_no_installer_on_path_the_error_says_what_is_missing(
    locked_flow: type, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    with pytest.raises(FlowkitError) as caught:
        ensure_local_environment(locked_flow, resolve_step_specs(locked_flow)["start"], datastore_root=tmp_path)
    message = str(caught.value)
    assert message.startswith("InlineFlow.start: cannot build its conda environment locally")
    assert "needs one of micromamba, mamba, conda on PATH" in message


def test_an_already_built_environment_needs_no_installer(
    locked_flow: type, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    start = resolve_step_specs(locked_flow)["start"]
    built = ensure_local_environment(locked_flow, start, datastore_root=tmp_path)
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    assert ensure_local_environment(locked_flow, start, datastore_root=tmp_path) == built


def test_a_step_without_conda_is_refused(write_flow: FlowFactory, tmp_path: Path) -> None:
    source = "class PlainFlow(Flow):\n    @step\n    def start(self):\n        pass\n"
    plain = write_flow(source, class_name="PlainFlow")
    with pytest.raises(FlowDefinitionError, match="declares no @conda environment"):
        ensure_local_environment(plain, resolve_step_specs(plain)["start"], datastore_root=tmp_path)
