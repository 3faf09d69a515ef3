"""The datastore on a freshly provisioned volume (root-owned, mode 0755), written by non-root pods, in the emulator.

The emulator runs each pod as its securityContext's user and applies fsGroup to the claim as the kubelet does (as
in every emulated run), so these runs show what a cluster does: with the fsGroup flowkit sets by default, pods of
different uids in that group share the datastore; without it, the first write fails with one line that says why
and what to do, and the failure is not retried as if the step had failed.
"""

from __future__ import annotations

import stat
import textwrap
from pathlib import Path

import pytest

from flowkit.cli.main import load_flow_class
from flowkit.compiler import compile_flow
from flowkit.compiler.render import to_dicts
from flowkit.packaging import build_package, build_payload, publish_to_dir
from flowkit.packaging.bootstrap_script import EXIT_DATASTORE_UNWRITABLE
from tests.support.argo_emulator import EmulatedRun, run_workflow_template

pytestmark = pytest.mark.e2e

FLOW = """
from flowkit import Flow, argo, kubernetes, retry, step


@argo({argo_options})
@retry(times=2, minutes_between_retries=0)
@kubernetes(image="python:3-slim")
class SharedFlow(Flow):
    @step
    def start(self):
        self.numbers = [1, 2, 3]
        self.next(self.end)

    @step
    def end(self):
        print("total", sum(self.numbers))
"""


def _run(tmp_path: Path, claim: Path, argo_options: str, name: str) -> EmulatedRun:
    project = tmp_path / name
    project.mkdir()
    (project / "shared_flow.py").write_text(textwrap.dedent(FLOW.format(argo_options=argo_options)))
    flow_cls = load_flow_class(f"{project / 'shared_flow.py'}:SharedFlow")
    package_ref = publish_to_dir(build_package(flow_cls, project), build_payload(flow_cls, project), claim)
    compiled = compile_flow(flow_cls, package=package_ref)
    workdir = tmp_path / f"{name}-emulator"
    workdir.mkdir(mode=0o755)
    return run_workflow_template(
        to_dicts(compiled)[0],
        config_maps=[compiled.bootstrap_config_map],
        pvc_dirs={"flowkit-datastore": claim},
        workdir=workdir,
    )


@pytest.fixture
def claim(tmp_path: Path) -> Path:
    """A new volume's root: owned by root, mode 0755 (the package is published into it by root, as an admin would
    by mounting the claim)."""
    root = tmp_path / "claim"
    root.mkdir(mode=0o755)
    assert (root.stat().st_uid, stat.S_IMODE(root.stat().st_mode)) == (0, 0o755)
    return root


def test_pods_of_two_uids_in_the_fs_group_share_a_root_owned_volume(tmp_path: Path, claim: Path) -> None:
    first = _run(tmp_path, claim, "", "first")  # the defaults: runAsUser 1000, fsGroup 1000
    assert first.phase == "Succeeded", f"{first.message}\n{first.logs()}"
    second = _run(tmp_path, claim, "run_as_user=2000", "second")  # another uid, the same group
    assert second.phase == "Succeeded", f"{second.message}\n{second.logs()}"

    runs = claim / "runs" / "SharedFlow"
    written = [path for path in runs.rglob("*")]
    assert {path.stat().st_uid for path in written} == {1000, 2000}
    for path in written:
        mode = path.stat().st_mode
        assert path.stat().st_gid == 1000, path
        if path.is_dir():
            assert mode & 0o2070 == 0o2070, f"{path} is {stat.filemode(mode)}"  # setgid, group rwx
        else:
            assert mode & 0o040, f"{path} is {stat.filemode(mode)}"  # group-readable
    assert "total 6" in second.logs()


@pytest.mark.parametrize("package_cache", ["volume", "pod"])
def test_without_the_fs_group_the_first_write_fails_clearly_and_is_not_retried(
    tmp_path: Path, claim: Path, package_cache: str
) -> None:
    """Refused by the bootstrap (its package cache on the claim) or by the task (its first datastore write)."""
    run = _run(tmp_path, claim, f"fs_group=None, package_cache={package_cache!r}", "nogroup")

    assert run.phase == "Failed"
    (start,) = [node for node in run.nodes if node.kind == "container"]
    assert [attempt.exit_code for attempt in start.attempts] == [EXIT_DATASTORE_UNWRITABLE]  # @retry(times=2) unused
    (line,) = [line for line in start.attempts[0].stderr.splitlines() if line.strip()]
    assert line.startswith("flowkit: the datastore is not writable: /flowkit/")
    assert "owned by uid 0 gid 0, mode " in line and "runs as uid 1000 gid 0" in line
    assert "@argo(fs_group=GID)" in line
