"""`gc` deletes runs past their retention, then the blobs and extracted packages no remaining run names, and only
what has not changed for the grace period: a live run loses nothing, and --dry-run deletes nothing."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from flowkit.client import Run
from flowkit.datastore import DataStore, RunRecord, TaskRecord, gc
from flowkit.datastore.atomic import HOST
from flowkit.datastore.gc import EXTRACTED_PACKAGES_DIR, collect_garbage
from flowkit.errors import DataStoreError
from flowkit.identity import TaskRef
from flowkit.plain_data import replace
from flowkit.runtime.api import run_flow
from tests.execution import flows
from tests.runtime.cli_runner import REPO_ROOT, write_flow

DAY = 24 * 3600


def _age(path: Path, seconds: float) -> None:
    """Make ``path`` and everything under it look ``seconds`` old."""
    stamp = time.time() - seconds
    for item in [path, *path.rglob("*")]:
        os.utime(item, (stamp, stamp), follow_symlinks=False)


def _make_old(store: DataStore, flow: str, run_id: str) -> None:
    """Give a run a creation time 60 days ago, and age its files and every blob."""
    path = store.run_dir(flow, run_id) / "run.json"
    record = RunRecord.from_json(path.read_bytes())
    path.unlink()
    store.write_run(replace(record, created_at=datetime.now(timezone.utc) - timedelta(days=60)))
    _age(store.run_dir(flow, run_id), 60 * DAY)
    _age(store.blobs.directory, 60 * DAY)


def _blob_names(store: DataStore) -> set[str]:
    return {path.name for path in store.blobs.directory.rglob("*") if path.is_file()}


def test_old_runs_then_unreferenced_blobs_are_deleted_and_a_dry_run_only_reports(datastore_root: Path) -> None:
    store = DataStore(datastore_root)
    old = run_flow(flows.LinearFlow, {"greeting": "only in the old run"}, datastore_root=datastore_root)
    new = run_flow(flows.LinearFlow, {}, datastore_root=datastore_root)
    _make_old(store, "LinearFlow", old.id)
    unreferenced = store.put_artifact("written by a task that never committed")
    _age(store.blobs.path(unreferenced.sha256), 60 * DAY)
    fresh = store.put_artifact("written by a task that is still running")
    dead_temp = store.blobs.directory / f".tmp-incoming~{HOST}~{_dead_pid()}~0"
    dead_temp.write_bytes(b"half a blob")
    before = _blob_names(store)

    dry = collect_garbage(store, older_than=timedelta(days=30), grace=timedelta(hours=1), dry_run=True)
    assert dry.runs == [f"LinearFlow/{old.id}"] and dry.run_bytes > 0
    assert dry.blobs.files >= 2 and dry.temporary_files.files == 1 and dry.total_bytes > dry.run_bytes
    assert _blob_names(store) == before and store.run_dir("LinearFlow", old.id).is_dir() and dead_temp.exists()

    report = collect_garbage(store, older_than=timedelta(days=30), grace=timedelta(hours=1))
    assert report.runs == dry.runs and report.blobs == dry.blobs and report.temporary_files == dry.temporary_files
    assert not store.run_dir("LinearFlow", old.id).exists() and not dead_temp.exists()
    remaining = _blob_names(store)
    assert unreferenced.sha256 not in remaining and fresh.sha256 in remaining
    kept = Run(f"LinearFlow/{new.id}", datastore_root=datastore_root)
    assert kept.data.total == 1002 and kept["start"].task.data.big == list(range(1000)), "verified reads still work"
    assert {ref.sha256 for step in kept for task in step for ref in task.metadata.artifacts.values()} <= remaining


def test_a_run_still_changing_is_kept_whatever_its_age(datastore_root: Path) -> None:
    store = DataStore(datastore_root)
    run = run_flow(flows.LinearFlow, {}, datastore_root=datastore_root)
    report = collect_garbage(store, older_than=timedelta(0), grace=timedelta(hours=1))
    assert report.runs == [] and report.blobs.files == 0
    assert Run(f"LinearFlow/{run.id}", datastore_root=datastore_root).data.total == 1002


def test_extracted_packages_no_remaining_run_uses_are_deleted(datastore_root: Path) -> None:
    store = DataStore(datastore_root)
    now = datetime.now(timezone.utc)
    store.commit(
        TaskRecord(
            flow="F",
            run_id="r",
            step="start",
            task_id="0",
            status="succeeded",
            started_at=now,
            finished_at=now,
            code_package_id="used",
        )
    )
    cache = datastore_root / EXTRACTED_PACKAGES_DIR
    for name in ("used", "unused", "recent"):
        (cache / name / "code").mkdir(parents=True)
        (cache / name / "code" / "flow.py").write_text("x = 1\n")
    _age(cache / "used", 60 * DAY)
    _age(cache / "unused", 60 * DAY)
    report = collect_garbage(store, older_than=timedelta(days=30), grace=timedelta(hours=1))
    assert report.packages == ["unused"] and report.package_bytes == 6
    assert sorted(os.listdir(cache)) == ["recent", "used"]
    assert store.committed_record(TaskRef("F", "r", "start"), 0) is not None


def test_storing_an_existing_blob_again_renews_it_for_the_grace_period(datastore_root: Path) -> None:
    store = DataStore(datastore_root)
    ref = store.put_artifact(list(range(10)))
    path = store.blobs.path(ref.sha256)
    _age(path, 60 * DAY)
    assert store.put_artifact(list(range(10))) == ref
    assert time.time() - path.stat().st_mtime < 60


def test_a_blob_removed_while_it_is_stored_again_is_written_again(datastore_root: Path) -> None:
    store = DataStore(datastore_root)
    ref = store.put_artifact(b"payload")
    real_utime = os.utime

    def removed_first(path: object, *args: object, **kwargs: object) -> None:
        Path(str(path)).unlink(missing_ok=True)  # garbage collection got there between the check and the touch
        real_utime(path, *args, **kwargs)  # type: ignore[arg-type]

    os.utime = removed_first  # type: ignore[assignment]
    try:
        again = store.put_artifact(b"payload")
    finally:
        os.utime = real_utime
    assert again == ref and store.blobs.load(ref.sha256) == b"payload"


SLOW_FLOW = """
import os, time
from flowkit import Flow, step


class SlowFlow(Flow):
    @step
    def start(self):
        self.items = list(range(8))
        self.next(self.work, foreach="items")

    @step
    def work(self):
        self.payload = os.urandom(200_000)
        time.sleep(0.2)
        self.echo = self.payload
        self.next(self.join)

    @step
    def join(self, inputs):
        self.total = sum(len(task.echo) for task in inputs)
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    SlowFlow()
"""


def test_gc_over_and_over_while_a_run_writes_loses_nothing(tmp_path: Path, datastore_root: Path) -> None:
    store = DataStore(datastore_root)
    run_flow(flows.LinearFlow, {}, datastore_root=datastore_root)
    for run_id in store.list_runs("LinearFlow"):
        _make_old(store, "LinearFlow", run_id)
    flow_file = write_flow(tmp_path, SLOW_FLOW)
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT), "FLOWKIT_DATASTORE_ROOT": str(datastore_root)}
    run_id_file = tmp_path / "run-id"
    command = [sys.executable, str(flow_file), "run", "--max-workers", "2", "--run-id-file", str(run_id_file)]
    live = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    collections = 0
    deleted_runs: list[str] = []
    while live.poll() is None:
        report = collect_garbage(store, older_than=timedelta(0), grace=timedelta(hours=1))
        deleted_runs += report.runs
        collections += 1
    assert live.returncode == 0, live.stdout.read() if live.stdout else ""
    assert collections > 1 and deleted_runs and all(run.startswith("LinearFlow/") for run in deleted_runs)
    run = Run(f"SlowFlow/{run_id_file.read_text().strip()}", datastore_root=datastore_root)
    assert run.data.total == 8 * 200_000
    assert all(len(task.data.echo) == 200_000 for task in run["work"])


def _dead_pid() -> int:
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid


def test_the_gc_command_reports_what_and_how_much(tmp_path: Path, datastore_root: Path) -> None:
    store = DataStore(datastore_root)
    old = run_flow(flows.LinearFlow, {}, datastore_root=datastore_root)
    _make_old(store, "LinearFlow", old.id)
    console = "import sys; from flowkit.cli.main import main; main(sys.argv[1:])"
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    base = [sys.executable, "-c", console, "gc", "--datastore-root", str(datastore_root)]
    dry = subprocess.run([*base, "--dry-run"], env=env, capture_output=True, text=True, cwd=tmp_path)
    assert dry.returncode == 0, dry.stderr
    assert f"would delete run LinearFlow/{old.id}" in dry.stdout and "MiB in all" in dry.stdout
    assert store.run_dir("LinearFlow", old.id).is_dir()
    flow_file = write_flow(tmp_path, SLOW_FLOW)
    real = subprocess.run([sys.executable, str(flow_file), "gc"], env=env, capture_output=True, text=True, cwd=tmp_path)
    assert real.returncode == 0, real.stderr
    assert f"deleted run LinearFlow/{old.id}" in real.stdout and not store.run_dir("LinearFlow", old.id).exists()


def _task(store: DataStore, flow: str, run_id: str, step: str) -> TaskRef:
    return TaskRef.from_task_id(flow, run_id, step, store.list_task_ids(flow, run_id, step)[0])


def _clone_run(store: DataStore, flow: str, origin: str, run_id: str) -> list[TaskRef]:
    """What a resume does with every task of ``origin``: clone it into ``run_id``."""
    cloned = []
    for step in store.list_steps(flow, origin):
        for task_id in store.list_task_ids(flow, origin, step):
            record = store.successful_record(TaskRef.from_task_id(flow, origin, step, task_id))
            cloned.append(store.clone_task(record, run_id).coordinates)
    return cloned


def test_a_resume_cloning_from_an_origin_gc_is_deleting_loses_nothing(
    datastore_root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The resume clones the origin's tasks after gc judged the origin old enough to delete, before gc deletes it."""
    store = DataStore(datastore_root)
    origin = run_flow(flows.LinearFlow, {}, datastore_root=datastore_root).id
    _make_old(store, "LinearFlow", origin)
    origin_dir = store.run_dir("LinearFlow", origin)
    judged = gc._size_and_newest
    cloned: list[TaskRef] = []

    def resume_right_after_the_judgement(directory: Path) -> tuple[int, float]:
        verdict = judged(directory)
        if directory == origin_dir and not cloned:
            cloned.extend(_clone_run(store, "LinearFlow", origin, "resumed"))
        return verdict

    monkeypatch.setattr(gc, "_size_and_newest", resume_right_after_the_judgement)
    report = collect_garbage(store, older_than=timedelta(days=30), grace=timedelta(hours=1))
    assert cloned and report.runs == [] and origin_dir.is_dir(), "the origin a resume uses is kept"
    for task in cloned:
        for name, ref in store.successful_record(task).artifacts.items():
            store.load_artifact(ref, artifact=name, task=task)  # every blob the clones name is still there


def test_cloning_a_task_marks_its_origin_run_in_use_for_the_grace_period(datastore_root: Path) -> None:
    """A resume clones tasks as they become ready; gc keeps its origin while the resume may still clone more."""
    store = DataStore(datastore_root)
    origin = run_flow(flows.LinearFlow, {}, datastore_root=datastore_root).id
    _make_old(store, "LinearFlow", origin)
    start = store.successful_record(_task(store, "LinearFlow", origin, "start"))
    store.clone_task(start, "resumed")
    report = collect_garbage(store, older_than=timedelta(days=30), grace=timedelta(hours=1))
    assert report.runs == [] and store.successful_record(_task(store, "LinearFlow", origin, "end")).succeeded


def test_cloning_from_an_origin_gc_deleted_is_one_error_naming_the_origin(datastore_root: Path) -> None:
    store = DataStore(datastore_root)
    origin = run_flow(flows.LinearFlow, {}, datastore_root=datastore_root).id
    end = store.successful_record(_task(store, "LinearFlow", origin, "end"))
    _make_old(store, "LinearFlow", origin)
    assert collect_garbage(store, older_than=timedelta(days=30), grace=timedelta(hours=1)).runs
    with pytest.raises(DataStoreError, match=f"origin run LinearFlow/{origin} .*no longer exists"):
        store.clone_task(end, "resumed")
    assert not store.task_dir(end.coordinates.in_run("resumed")).exists()


def test_a_run_a_dead_collection_took_away_but_never_deleted_goes_at_the_next(datastore_root: Path) -> None:
    store = DataStore(datastore_root)
    run_id = run_flow(flows.LinearFlow, {}, datastore_root=datastore_root).id
    hidden = store.flow_dir("LinearFlow") / f".tmp-{run_id}~{HOST}~{_dead_pid()}~0"
    os.rename(store.run_dir("LinearFlow", run_id), hidden)
    collect_garbage(store, older_than=timedelta(days=30), grace=timedelta(hours=1))
    assert not hidden.exists() and store.list_runs("LinearFlow") == []


def test_a_run_another_live_collection_took_away_is_left_to_it(datastore_root: Path) -> None:
    """That collection may still put the run back (a resume touched it); only a dead collection's runs are taken."""
    store = DataStore(datastore_root)
    run_id = run_flow(flows.LinearFlow, {}, datastore_root=datastore_root).id
    _make_old(store, "LinearFlow", run_id)
    hidden = store.flow_dir("LinearFlow") / f".tmp-{run_id}~{HOST}~{os.getpid()}~0"
    os.rename(store.run_dir("LinearFlow", run_id), hidden)
    collect_garbage(store, older_than=timedelta(days=30), grace=timedelta(hours=1))
    assert hidden.is_dir()
