"""`python -m flowkit.task` as a separate process: what a pod runs."""

from __future__ import annotations

import errno
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from flowkit.datastore import DataStore
from flowkit.datastore.atomic import storage_errors
from flowkit.errors import EXIT_STORAGE
from flowkit.identity import TaskRef
from flowkit.packaging.bootstrap_script import EXIT_DATASTORE_UNWRITABLE
from flowkit.task.cli import load_flow_class, main
from tests.execution import flows

FLOWS_FILE = Path(flows.__file__).resolve()
REPO = FLOWS_FILE.parents[2]


def _task(root: Path, *arguments: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "flowkit.task", "--datastore-root", str(root), *arguments]
    return subprocess.run(command, capture_output=True, text=True, cwd=REPO, timeout=120, check=False)


@pytest.mark.e2e
def test_tasks_run_as_processes_with_tee_logs(datastore_root: Path, tmp_path: Path) -> None:
    file_flow = f"{FLOWS_FILE}:OneArtifactFlow"
    assert _task(datastore_root, "--flow", file_flow, "--run-id", "p1", "--step", "start").returncode == 0
    work = _task(datastore_root, "--flow", file_flow, "--run-id", "p1", "--step", "work", "--tee-logs")
    assert work.returncode == 0, work.stderr
    assert work.stdout == "out\n" and work.stderr == "err\n", "output still reaches the process's own streams"
    store = DataStore(datastore_root)
    coords = TaskRef("OneArtifactFlow", "p1", "work")
    stamp = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z "  # the stored copy stamps each line with its time
    assert re.fullmatch(f"{stamp}out\n", store.read_log(coords, 0, "out"))
    assert re.fullmatch(f"{stamp}err\n", store.read_log(coords, 0, "err"))
    record = store.latest_record(coords)
    assert record is not None and store.blobs.load(record.artifacts["value"].sha256) == 42


@pytest.mark.e2e
def test_module_form_params_split_output_and_failure_exit_code(datastore_root: Path, tmp_path: Path) -> None:
    splits = tmp_path / "splits.json"
    start = _task(
        datastore_root,
        "--flow", "tests.execution.flows:ForeachFlow",
        "--run-id", "p2", "--step", "start",
        "--param", "width=3",
        "--split-output", str(splits),
    )  # fmt: skip
    assert start.returncode == 0, start.stderr
    assert json.loads(splits.read_text()) == [0, 1, 2]
    body = _task(
        datastore_root, "--flow", "tests.execution.flows:ForeachFlow", "--run-id", "p2", "--step", "work",
        "--index-path", "2", "--attempt", "1",
    )  # fmt: skip
    assert body.returncode == 0, body.stderr
    record = DataStore(datastore_root).latest_record(TaskRef("ForeachFlow", "p2", "work", (2,)))
    assert record is not None and record.attempt == 1 and record.task_id == "0.2"
    failing = _task(
        datastore_root, "--flow", "tests.execution.flows:UnpicklableFlow", "--run-id", "p3", "--step", "start"
    )
    assert failing.returncode == 1
    assert "artifact 'lock'" in failing.stderr


def test_main_with_a_class_in_hand(datastore_root: Path, capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["--datastore-root", str(datastore_root), "--run-id", "m1", "--step", "start", "--param", 'greeting="hi"']
    assert main(argv, flow_cls=flows.LinearFlow) == 0
    run = DataStore(datastore_root).read_run("LinearFlow", "m1")
    assert run is not None and run.parameters["greeting"] == '"hi"'


@pytest.mark.parametrize(
    ("code", "exit_status", "line"),
    [
        (errno.EACCES, EXIT_DATASTORE_UNWRITABLE, "flowkit: the datastore is not writable: "),
        (errno.EROFS, EXIT_DATASTORE_UNWRITABLE, "flowkit: the datastore is not writable: "),
        (errno.ENOSPC, EXIT_STORAGE, "error: cannot write "),
    ],
)
def test_a_refused_write_after_the_first_exits_as_the_first_would(
    datastore_root: Path,
    monkeypatch: pytest.MonkeyPatch,
    capfd: pytest.CaptureFixture[str],
    code: int,
    exit_status: int,
    line: str,
) -> None:
    """The task's directory is writable but storing its artifact is refused: a permission or read-only refusal
    exits with the status the retryStrategy excludes (no retry can fix it), a full disk with the retried one."""
    blob_dir = datastore_root / "blobs"

    def refused(store: DataStore, value: object) -> object:
        with storage_errors("write", blob_dir):
            raise OSError(code, os.strerror(code), str(blob_dir / "sha256"))

    monkeypatch.setattr(DataStore, "put_artifact", refused)
    argv = ["--datastore-root", str(datastore_root), "--run-id", "w1", "--step", "start", "--param", 'greeting="hi"']
    assert main(argv, flow_cls=flows.LinearFlow) == exit_status
    (reported,) = [text for text in capfd.readouterr().err.splitlines() if text.strip()]
    assert reported.startswith(line) and str(blob_dir) in reported, reported
    assert DataStore(datastore_root).list_attempts(TaskRef("LinearFlow", "w1", "start")) == [], "no record, no retry"


def test_bad_arguments(datastore_root: Path, capsys: pytest.CaptureFixture[str]) -> None:
    base = ["--datastore-root", str(datastore_root), "--run-id", "b1", "--step", "start"]
    assert main([*base, "--flow", "tests.execution.flows:NoSuchFlow"]) == 2
    assert "no Flow subclass named 'NoSuchFlow'" in capsys.readouterr().err
    assert main([*base, "--flow", "tests.execution.flows"]) == 2
    assert main([*base, "--index-path", "1.x"], flow_cls=flows.LinearFlow) == 2
    assert main([*base, "--param", "novalue"], flow_cls=flows.LinearFlow) == 2
    wrong_step = ["--datastore-root", str(datastore_root), "--run-id", "b1", "--step", "nope"]
    assert main(wrong_step, flow_cls=flows.LinearFlow) == 2
    assert "LinearFlow has no step 'nope'" in capsys.readouterr().err
    assert not os.path.exists(datastore_root / "runs")


def test_load_flow_class_from_a_file_path() -> None:
    loaded = load_flow_class(f"{FLOWS_FILE}:BranchFlow")
    assert loaded.__name__ == "BranchFlow"


RETRIED_FLOW = """
import os

from flowkit import Flow, step


class RetriedFlow(Flow):
    @step
    def start(self):
        if os.path.exists(os.environ["FAIL_MARKER"]):
            raise RuntimeError("the service is down")
        self.value = "from the re-run"
        self.next(self.end)

    @step
    def end(self):
        print(self.value)
"""


@pytest.mark.e2e
def test_after_argo_retry_the_rerun_commits_a_new_attempt_that_children_read(tmp_path: Path) -> None:
    """`argo retry` runs a step that used up its retries again with Argo's counter back at 0; records 0-2 of the
    first run are still there and are never replaced, so the re-run commits as attempt 3, the one `end` reads."""
    flow_file = tmp_path / "retried_flow.py"
    flow_file.write_text(RETRIED_FLOW)
    marker = tmp_path / "down"
    marker.touch()
    os.environ["FAIL_MARKER"] = str(marker)
    root = tmp_path / "datastore"
    flow = ("--flow", f"{flow_file}:RetriedFlow", "--run-id", "w1")
    try:
        for attempt in range(3):
            assert _task(root, *flow, "--step", "start", "--attempt", str(attempt)).returncode == 1
        marker.unlink()
        rerun = _task(root, *flow, "--step", "start", "--attempt", "0")
        end = _task(root, *flow, "--step", "end")
    finally:
        del os.environ["FAIL_MARKER"]

    assert rerun.returncode == 0, rerun.stderr
    store = DataStore(root)
    start = TaskRef("RetriedFlow", "w1", "start")
    assert store.list_attempts(start) == [0, 1, 2, 3]
    assert [store.read_record(start, n).status for n in range(4)] == ["failed"] * 3 + ["succeeded"]
    assert end.returncode == 0, end.stderr
    assert end.stdout == "from the re-run\n"
