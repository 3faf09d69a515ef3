"""`run --environment conda` starts @conda steps as `<env python> -m flowkit.task ...`, not as forks.

Building a real conda environment needs a solver and the network, so the flow file replaces
`ensure_local_environment` with one that returns this interpreter under a made-up environment id: what is tested
is the runtime's side (the task runs in a separate interpreter that imports the flow by module, records the id,
streams its output, and the other steps still fork).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.runtime.cli_runner import describe, run_flow_file, write_flow

FLOW = """
import os, sys
from pathlib import Path

import flowkit.environments.local as local_environments
from flowkit import Flow, conda, step


def pretend_built(flow_cls, step_spec, *, datastore_root=None):
    return local_environments.LocalEnvironment(python=Path(sys.executable), env_id="env-under-test")


local_environments.ensure_local_environment = pretend_built


class CondaStepFlow(Flow):
    @step
    def start(self):
        self.next(self.inside)

    @conda(python="3.11", packages={"numpy": ""})
    @step
    def inside(self):
        print("inside", __name__)
        self.module = type(self).__module__
        self.environment_id = os.environ.get("FLOWKIT_ENVIRONMENT_ID")
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    CondaStepFlow()
"""


@pytest.mark.e2e
def test_conda_steps_run_in_their_environment_interpreter(tmp_path: Path, datastore_root: Path) -> None:
    result, run = run_flow_file(write_flow(tmp_path, FLOW), "--environment", "conda", datastore_root=datastore_root)

    assert result.returncode == 0, describe(result)
    inside = run["inside"].task
    assert inside.data.module == "flow", "imported from its file by a fresh interpreter, not forked from __main__"
    assert inside.data.environment_id == "env-under-test"
    assert inside.metadata.environment_id == "env-under-test"
    assert "[inside/0] inside" in result.stdout
    assert run["start"].task.metadata.environment_id is None, "steps without @conda still fork"
