"""Temporary files of dead writers are swept (by owner liveness, and by age for writers elsewhere); live writers'
files and finished files are never touched; a run or resume sweeps what killed runs left."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

from flowkit.datastore import DataStore, RunRecord
from flowkit.datastore.atomic import HOST, temp_path_beside, temp_writer
from flowkit.datastore.sweep import STALE_TEMP_SECONDS, sweep_temporary_files
from flowkit.identity import TaskRef
from flowkit.runtime.api import run_flow
from flowkit.runtime.resume import ResumeFrom
from tests.execution import flows


def _dead_pid() -> int:
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid


def _temp(directory: Path, name: str, *, age: float = 0.0, size: int = 10) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / name
    path.write_bytes(b"x" * size)
    if age:
        stamp = time.time() - age
        os.utime(path, (stamp, stamp))
    return path


def test_a_temporary_name_says_which_writer_made_it(tmp_path: Path) -> None:
    assert temp_writer(temp_path_beside(tmp_path / "0.json").name) == (HOST, os.getpid())
    assert temp_writer(".tmp-0.json.123.0") is None, "names of older versions say nothing"


def test_only_abandoned_temporary_files_are_swept(tmp_path: Path) -> None:
    dead = _dead_pid()
    gone = [
        _temp(tmp_path, f".tmp-incoming~{HOST}~{dead}~0", size=1000),
        _temp(tmp_path / "ab", ".tmp-0.json~other-host~1~0", age=STALE_TEMP_SECONDS + 60),
        _temp(tmp_path / "ab", ".tmp-0.json.123.0", age=STALE_TEMP_SECONDS + 60),
    ]
    kept = [
        _temp(tmp_path, f".tmp-incoming~{HOST}~{os.getpid()}~1"),  # its writer is alive
        _temp(tmp_path / "ab", ".tmp-0.json~other-host~1~1"),  # another machine's writer, still recent
        _temp(tmp_path / "ab", "finished", age=STALE_TEMP_SECONDS + 60),  # not a temporary file at all
    ]
    dry = sweep_temporary_files([tmp_path], recursive=True, dry_run=True)
    assert (dry.files, dry.bytes) == (3, 1020) and all(path.exists() for path in gone)
    swept = sweep_temporary_files([tmp_path], recursive=True)
    assert (swept.files, swept.bytes) == (3, 1020)
    assert not any(path.exists() for path in gone) and all(path.exists() for path in kept)
    reused = _temp(tmp_path, f".tmp-y~{HOST}~{os.getpid()}~9", age=3600)  # written before this process started
    assert sweep_temporary_files([tmp_path]).files == 1 and not reused.exists(), "a reused pid is no writer"
    zombie = subprocess.Popen([sys.executable, "-c", "pass"])
    while Path(f"/proc/{zombie.pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z":
        time.sleep(0.01)  # exited, not yet reaped
    unreaped = _temp(tmp_path, f".tmp-z~{HOST}~{zombie.pid}~9")
    assert sweep_temporary_files([tmp_path]).files == 1 and not unreaped.exists(), "a zombie writes nothing more"
    zombie.wait()
    top_only = _temp(tmp_path / "ab", f".tmp-x~{HOST}~{dead}~2")
    assert sweep_temporary_files([tmp_path]).files == 0 and top_only.exists(), "not recursive unless asked"


def test_a_run_sweeps_half_written_blobs_and_a_resume_its_origin_records_and_logs(datastore_root: Path) -> None:
    store = DataStore(datastore_root)
    dead = _dead_pid()
    blob = _temp(store.blobs.directory, f".tmp-incoming~{HOST}~{dead}~0", size=4096)
    first = run_flow(flows.LinearFlow, {}, datastore_root=datastore_root, max_workers=1)
    assert not blob.exists(), "the next run swept the blob a dead writer left"
    task_dir = store.task_dir(TaskRef("LinearFlow", first.id, "middle"))
    log = _temp(task_dir, f".tmp-1.out~{HOST}~{dead}~3")
    store.write_run(RunRecord(flow="LinearFlow", run_id="other"))
    other_run_log = _temp(store.run_dir("LinearFlow", "other") / "start" / "0", f".tmp-0.err~{HOST}~{dead}~4")
    run_flow(
        flows.LinearFlow, datastore_root=datastore_root, max_workers=1, resume_from=ResumeFrom(origin_run_id=first.id)
    )
    assert not log.exists(), "a resume sweeps the run it continues"
    assert other_run_log.exists(), "other recorded runs are left to their own resume, or to gc"


def test_a_run_sweeps_the_runs_that_never_recorded_themselves(datastore_root: Path) -> None:
    store = DataStore(datastore_root)
    dead = _dead_pid()
    recorded = run_flow(flows.LinearFlow, {}, datastore_root=datastore_root, max_workers=1)
    stopped_log = _temp(store.run_dir("LinearFlow", "stopped") / "start" / "0", f".tmp-0.out~{HOST}~{dead}~5")
    recorded_log = _temp(store.run_dir("LinearFlow", recorded.id) / "end" / "0", f".tmp-1.out~{HOST}~{dead}~6")
    run_flow(flows.LinearFlow, {}, datastore_root=datastore_root, max_workers=1)
    assert not stopped_log.exists(), "no resume can continue a run that never recorded itself: a run sweeps it"
    assert recorded_log.exists(), "a recorded run is swept by its resume, or by gc"
