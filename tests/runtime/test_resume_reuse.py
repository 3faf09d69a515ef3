"""resume reuses exactly the tasks whose step code, inputs and parameters are unchanged, and says so.

Failed foreach tasks run again while their succeeded siblings are cloned; a flow edited since the origin run runs
the edited steps, the steps whose parents changed, and everything downstream of them.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.runtime.cli_runner import describe, run_flow_file, write_flow

pytestmark = pytest.mark.e2e

PARTLY_FAILING_FLOW = """
import os
from flowkit import Flow, Parameter, step


class PartlyFailingFlow(Flow):
    flag = Parameter("flag", type=str, required=True)

    @step
    def start(self):
        self.items = list(range(6))
        self.next(self.work, foreach="items")

    @step
    def work(self):
        if self.input == 3 and os.path.exists(self.flag):
            raise RuntimeError("item 3 fails while the flag is up")
        self.square = self.input * self.input
        self.pid = os.getpid()
        self.next(self.join)

    @step
    def join(self, inputs):
        self.total = sum(task.square for task in inputs)
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    PartlyFailingFlow()
"""


def test_only_the_failed_foreach_task_and_what_follows_run_again(tmp_path: Path, datastore_root: Path) -> None:
    flag = tmp_path / "flag"
    flag.touch()
    flow_file = write_flow(tmp_path, PARTLY_FAILING_FLOW)
    failed, origin = run_flow_file(flow_file, "--flag", str(flag), "--max-workers", "6", datastore_root=datastore_root)
    assert failed.returncode == 1, describe(failed)
    assert [task.successful for task in origin["work"].tasks] == [True, True, True, False, True, True]

    flag.unlink()
    resumed, run = run_flow_file(
        flow_file, "--origin-run-id", origin.id, datastore_root=datastore_root, command="resume"
    )
    assert resumed.returncode == 0, describe(resumed)
    assert run.data.total == sum(i * i for i in range(6))
    cloned = [task.metadata.origin_run_id for task in run["work"].tasks]
    assert cloned == [origin.id, origin.id, origin.id, None, origin.id, origin.id], "only item 3 ran again"
    assert [task.data.pid for task in run["work"].tasks if task.id != "0.3"] == [
        task.data.pid for task in origin["work"].tasks if task.id != "0.3"
    ]
    assert run["join"].task.metadata.origin_run_id is None and run["end"].task.metadata.origin_run_id is None
    assert "reused 6 task(s)" in resumed.stdout
    assert "work: 5 reused; 1 run (failed in the origin run)" in resumed.stdout
    assert "join: 1 run (an input task runs again)" in resumed.stdout


EDITED_FLOW = """
from flowkit import Flow, step


class EditedFlow(Flow):
    @step
    def start(self):
        self.base = 1
        self.next(self.a)

    @step
    def a(self):
        self.x = {x_value}
        self.next(self.{after_a})
{b_step}{c_step}
    @step
    def end(self):
        self.result = (self.x, getattr(self, "y", None), getattr(self, "z", None))


if __name__ == "__main__":
    EditedFlow()
"""

B_STEP = """
    @step
    def b(self):
        self.y = 2
        self.next(self.{after_b})
"""

C_STEP = """
    @step
    def c(self):
        self.z = 3
        self.next(self.end)
"""


def _edited_flow(*, x_value: str = "1", with_b: bool = True, with_c: bool = False, comment: str = "") -> str:
    after_b = "c" if with_c else "end"
    return EDITED_FLOW.format(
        x_value=x_value + comment,
        after_a="b" if with_b else after_b,
        b_step=B_STEP.format(after_b=after_b) if with_b else "",
        c_step=C_STEP if with_c else "",
    )


@pytest.mark.parametrize(
    ("edit", "expected_result", "reused_steps"),
    [
        ({"comment": "  # only a comment changed"}, (1, 2, None), {"start", "a", "b", "end"}),
        ({"x_value": "10"}, (10, 2, None), {"start"}),
        ({"with_c": True}, (1, 2, 3), {"start", "a"}),  # b's self.next changed: b is edited too
        ({"with_b": False}, (1, None, None), {"start"}),  # likewise a's
    ],
    ids=["comment-only", "step-edited", "step-added-before-end", "step-removed"],
)
def test_a_flow_edited_since_the_origin_runs_changed_steps_and_everything_after(
    tmp_path: Path,
    datastore_root: Path,
    edit: dict[str, object],
    expected_result: tuple[object, ...],
    reused_steps: set[str],
) -> None:
    flow_file = write_flow(tmp_path, _edited_flow())
    first, origin = run_flow_file(flow_file, datastore_root=datastore_root)
    assert first.returncode == 0, describe(first)
    assert origin.data.result == (1, 2, None)

    write_flow(tmp_path, _edited_flow(**edit))  # type: ignore[arg-type]
    resumed, run = run_flow_file(
        flow_file, "--origin-run-id", origin.id, datastore_root=datastore_root, command="resume"
    )
    assert resumed.returncode == 0, describe(resumed)
    assert run.data.result == expected_result
    reused = {step.name for step in run if step.task.metadata.origin_run_id == origin.id}
    assert reused == reused_steps
    if "end" not in reused_steps:
        assert "end: 1 run (" in resumed.stdout


SWITCH_FLOW = """
import os
from flowkit import Flow, Parameter, step


class SwitchingFlow(Flow):
    flag = Parameter("flag", type=str, required=True)

    @step
    def start(self):
        self.pid = os.getpid()
        self.mode = "slow"
        self.next({"fast": self.fast, "slow": self.slow}, condition="mode")

    @step
    def fast(self):
        self.path = "fast"
        self.next(self.end)

    @step
    def slow(self):
        if os.path.exists(self.flag):
            raise RuntimeError("the slow branch fails while the flag is up")
        self.path = "slow"
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    SwitchingFlow()
"""


def test_a_reused_switch_resumes_on_the_branch_it_took(tmp_path: Path, datastore_root: Path) -> None:
    flag = tmp_path / "flag"
    flag.touch()
    flow_file = write_flow(tmp_path, SWITCH_FLOW)
    failed, origin = run_flow_file(flow_file, "--flag", str(flag), datastore_root=datastore_root)
    assert failed.returncode == 1, describe(failed)

    flag.unlink()
    resumed, run = run_flow_file(
        flow_file, "--origin-run-id", origin.id, datastore_root=datastore_root, command="resume"
    )
    assert resumed.returncode == 0, describe(resumed)
    assert run["start"].task.metadata.origin_run_id == origin.id, "the switch itself was reused"
    assert run.data.path == "slow" and "fast" not in run
