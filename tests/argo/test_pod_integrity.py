"""A pod verifies every artifact it reads against its blob's name, as a local task does: a byte the storage changed
between the pods' steps fails the reading step with one line naming the artifact, the task and the blob."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from flowkit.cli.main import load_flow_class
from flowkit.compiler import compile_flow
from flowkit.compiler.render import to_dicts
from flowkit.packaging import build_package, build_payload, publish_to_dir
from tests.support.argo_emulator import run_workflow_template

pytestmark = pytest.mark.e2e

FLOW = """
from pathlib import Path

from flowkit import Flow, kubernetes, step


@kubernetes(image="python:3-slim")
class DamagedFlow(Flow):
    @step
    def start(self):
        self.numbers = list(range(1000))
        self.next(self.end)

    @step
    def end(self):
        for blob in Path("/flowkit/blobs").rglob("*"):  # the storage flips a byte of every blob start stored
            if blob.is_file() and not blob.name.startswith("."):
                data = bytearray(blob.read_bytes())
                data[len(data) // 2] ^= 0x01
                blob.write_bytes(bytes(data))
        print("read", sum(self.numbers))
"""


def test_a_pod_reading_a_corrupt_blob_fails_naming_artifact_task_and_blob(tmp_path: Path) -> None:
    project, claim = tmp_path / "project", tmp_path / "claim"
    project.mkdir()
    claim.mkdir(mode=0o755)
    (project / "damaged_flow.py").write_text(textwrap.dedent(FLOW))
    flow_cls = load_flow_class(f"{project / 'damaged_flow.py'}:DamagedFlow")
    package_ref = publish_to_dir(build_package(flow_cls, project), build_payload(flow_cls, project), claim)
    compiled = compile_flow(flow_cls, package=package_ref)
    workdir = tmp_path / "emulator"
    workdir.mkdir(mode=0o755)
    run = run_workflow_template(
        to_dicts(compiled)[0],
        config_maps=[compiled.bootstrap_config_map],
        pvc_dirs={"flowkit-datastore": claim},
        workdir=workdir,
    )

    assert run.phase == "Failed", run.logs()
    (end,) = [node for node in run.nodes if node.kind == "container" and "end" in node.name]
    stderr = end.attempts[-1].stderr
    assert "read " not in run.logs(), "no wrong value was computed with"
    assert f"artifact 'numbers' of task DamagedFlow/{run.workflow_name}/end/0: blob /flowkit/blobs/sha256/" in stderr
    assert "is corrupt: its bytes hash to" in stderr
