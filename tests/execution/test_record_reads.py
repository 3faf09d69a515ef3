"""Reading one known attempt's record without listing its task directory, and opening both log writers at once."""

from __future__ import annotations

from pathlib import Path

from flowkit.datastore import DataStore, TaskRecord, utc_now
from flowkit.identity import TaskRef


def _committed(store: DataStore, coords: TaskRef, attempt: int) -> TaskRecord:
    now = utc_now()
    record = TaskRecord(
        flow=coords.flow,
        run_id=coords.run_id,
        step=coords.step,
        task_id=coords.task_id,
        index_path=list(coords.index_path),
        attempt=attempt,
        status="succeeded",
        started_at=now,
        finished_at=now,
    )
    store.commit(record)
    return record


def test_committed_record_is_the_attempts_record_or_none(datastore_root: Path) -> None:
    store = DataStore(datastore_root)
    coords = TaskRef("F", "r1", "train", (2,))
    assert store.committed_record(coords, 0) is None  # not even the task's directory exists
    written = _committed(store, coords, 1)
    assert store.committed_record(coords, 0) is None
    assert store.committed_record(coords, 1) == written
    (store.task_dir(coords) / ".tmp-0.json.1.0").write_text("{")  # an unfinished write is no record
    assert store.committed_record(coords, 0) is None


def test_log_writers_publish_both_streams_where_reads_find_them(datastore_root: Path) -> None:
    store = DataStore(datastore_root)
    coords = TaskRef("F", "r1", "train", (0,))
    writers = store.log_writers(coords, 3)
    assert sorted(writers) == ["err", "out"]
    writers["out"].write(b"to out\n")
    writers["err"].write(b"to err\n")
    for writer in writers.values():
        writer.close()
    assert store.read_log(coords, 3, "out") == "to out\n"
    assert store.read_log(coords, 3, "err") == "to err\n"
