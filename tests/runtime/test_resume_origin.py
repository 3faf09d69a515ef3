"""A plain `resume` resumes the latest run that recorded itself and says so; when a newer run never recorded itself
(stopped before its start task committed), it asks for --origin-run-id instead of silently taking an older run."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from flowkit.datastore import DataStore, RunRecord
from flowkit.errors import FlowkitError
from flowkit.runtime.resume import latest_recorded_run
from tests.runtime.cli_runner import REPO_ROOT, describe, flow_command, run_flow_file, write_flow


def test_the_latest_recorded_run_is_the_default_origin(datastore_root: Path) -> None:
    store = DataStore(datastore_root)
    with pytest.raises(FlowkitError, match="no earlier run to resume"):
        latest_recorded_run(store, "F")
    store.write_run(RunRecord(flow="F", run_id="20260101T000000-aaaaaa"))
    store.write_run(RunRecord(flow="F", run_id="20260101T000001-bbbbbb"))
    assert latest_recorded_run(store, "F") == "20260101T000001-bbbbbb"


def test_a_newer_run_that_never_recorded_itself_makes_the_choice_ambiguous(datastore_root: Path) -> None:
    store = DataStore(datastore_root)
    store.write_run(RunRecord(flow="F", run_id="recorded"))
    time.sleep(0.01)
    store.run_dir("F", "stopped").mkdir(parents=True)
    with pytest.raises(FlowkitError, match=r"stopped never recorded itself.*--origin-run-id recorded"):
        latest_recorded_run(store, "F")


def test_no_recorded_run_at_all_is_nothing_to_resume(datastore_root: Path) -> None:
    store = DataStore(datastore_root)
    store.run_dir("F", "stopped").mkdir(parents=True)
    with pytest.raises(FlowkitError, match=r"no run recorded itself .*nothing to resume"):
        latest_recorded_run(store, "F")


GATED_FLOW = """
import time
from pathlib import Path
from flowkit import Flow, Parameter, step


class GatedFlow(Flow):
    gate = Parameter("gate", type=str, default="")

    @step
    def start(self):
        while self.gate and not Path(self.gate).exists():
            time.sleep(0.05)
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    GatedFlow()
"""


@pytest.mark.e2e
def test_resume_after_the_scheduler_died_before_its_run_recorded_itself(tmp_path: Path, datastore_root: Path) -> None:
    flow_file = write_flow(tmp_path, GATED_FLOW)
    finished, recorded = run_flow_file(flow_file, datastore_root=datastore_root)
    assert finished.returncode == 0, describe(finished)
    plain, resumed = run_flow_file(flow_file, datastore_root=datastore_root, command="resume", env={})
    assert plain.returncode == 0, describe(plain)
    assert f"resumes {recorded.id} (the latest run that recorded itself)" in plain.stdout + plain.stderr

    run_id_file = tmp_path / "stopped-run-id"
    gate = tmp_path / "gate"
    env = {**os.environ, "FLOWKIT_DATASTORE_ROOT": str(datastore_root), "PYTHONPATH": str(REPO_ROOT)}
    command = [sys.executable, str(flow_file), "run", "--gate", str(gate), "--run-id-file", str(run_id_file)]
    scheduler = subprocess.Popen(command, env=env, cwd=tmp_path, stdout=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while not run_id_file.exists() and time.monotonic() < deadline:
        time.sleep(0.01)
    scheduler.send_signal(signal.SIGKILL)
    scheduler.wait(timeout=10)
    gate.touch()  # whatever runs GatedFlow from now on finishes
    stopped = run_id_file.read_text().strip()

    again = flow_command(flow_file, "resume", datastore_root=datastore_root)
    if (datastore_root / "runs" / "GatedFlow" / stopped / "run.json").exists():
        # The start task recorded the run before the kill landed: it is the latest recorded run, and is resumed.
        assert again.returncode == 0, describe(again)
        assert f"resumes {stopped} (the latest run that recorded itself)" in again.stdout + again.stderr
        return
    assert again.returncode == 1, describe(again)
    assert stopped in again.stderr and f"--origin-run-id {resumed.id}" in again.stderr
    assert "Traceback" not in again.stderr
    chosen, _ = run_flow_file(flow_file, "--origin-run-id", resumed.id, datastore_root=datastore_root, command="resume")
    assert chosen.returncode == 0, describe(chosen)
