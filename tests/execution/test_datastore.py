"""The datastore: content addressing, dedupe, atomic publication, concurrency, listings and resume cloning."""

from __future__ import annotations

import multiprocessing
import os
import re
import signal
import subprocess
import sys
import textwrap
import time
from datetime import timedelta
from pathlib import Path

import pytest

from flowkit.datastore import DataStore, RunRecord, TaskRecord, resolve_datastore_root, utc_now
from flowkit.datastore.blob_format import ZSTD_MAGIC
from flowkit.datastore.fileio import STAGING_BYTES
from flowkit.datastore.store import AlreadyCommittedError
from flowkit.errors import DataStoreError
from flowkit.identity import TaskRef, format_index_path, index_path_of_task_id, parse_index_path, task_id_for


def _record(coords: TaskRef, attempt: int = 0, status: str = "succeeded", **fields: object) -> TaskRecord:
    now = utc_now()
    return TaskRecord(
        flow=coords.flow,
        run_id=coords.run_id,
        step=coords.step,
        task_id=coords.task_id,
        index_path=list(coords.index_path),
        attempt=attempt,
        status=status,  # type: ignore[arg-type]
        started_at=now,
        finished_at=now,
        **fields,  # type: ignore[arg-type]
    )


def _all_files(root: Path) -> list[Path]:
    return sorted(path for path in root.rglob("*") if path.is_file())


def test_task_identity_text_forms() -> None:
    assert task_id_for(()) == "0"
    assert task_id_for((3, 1)) == "0.3.1"
    assert parse_index_path("3.1") == (3, 1)
    assert parse_index_path(".3") == parse_index_path("3") == (3,)
    assert parse_index_path("") == ()
    assert format_index_path((3, 1)) == "3.1"
    assert index_path_of_task_id("0.3.1") == (3, 1)
    assert TaskRef("F", "r1", "train", (2,)).task_id == "0.2"
    with pytest.raises(ValueError, match=r"3\.x"):
        parse_index_path("3.x")


def test_root_resolution(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FLOWKIT_DATASTORE_ROOT", str(tmp_path / "env"))
    assert resolve_datastore_root(tmp_path / "explicit") == tmp_path / "explicit"
    assert resolve_datastore_root() == tmp_path / "env"
    monkeypatch.delenv("FLOWKIT_DATASTORE_ROOT")
    monkeypatch.chdir(tmp_path)
    assert resolve_datastore_root() == tmp_path / ".flowkit"


@pytest.mark.parametrize(
    "value",
    [
        None,
        0,
        "text ünïcode",
        {"nested": [1, 2.5, None]},
        b"\x00" * (3 * STAGING_BYTES + 17),
        os.urandom(STAGING_BYTES + 5),
        [os.urandom(STAGING_BYTES // 2 + 3), os.urandom(3 * STAGING_BYTES + 12345), b"tail"],
    ],
    ids=["none", "int", "str", "dict", "large-zeros", "large-random", "several-large-buffers"],
)
def test_artifact_round_trip(datastore_root: Path, value: object) -> None:
    store = DataStore(datastore_root)
    ref = store.put_artifact(value)
    assert store.blobs.load(ref.sha256) == value
    assert store.blobs.path(ref.sha256).is_file()
    assert ref.type == type(value).__qualname__


def test_compression_only_where_it_pays(datastore_root: Path) -> None:
    store = DataStore(datastore_root)
    zeros = store.put_artifact(bytes(4 << 20))
    random = store.put_artifact(os.urandom(4 << 20))
    zeros_blob = store.blobs.path(zeros.sha256).read_bytes()
    random_blob = store.blobs.path(random.sha256).read_bytes()
    assert zeros_blob.startswith(ZSTD_MAGIC) and len(zeros_blob) < zeros.size // 100
    assert not random_blob.startswith(ZSTD_MAGIC) and len(random_blob) == random.size


@pytest.mark.parametrize("value", [bytes(2 << 20), os.urandom(2 << 20)], ids=["compressed", "raw"])
def test_blob_name_is_the_sha256_of_its_bytes(datastore_root: Path, value: bytes) -> None:
    import hashlib

    store = DataStore(datastore_root)
    ref = store.put_artifact(value)
    assert ref.sha256 == hashlib.sha256(store.blobs.path(ref.sha256).read_bytes()).hexdigest()
    assert ref.size > len(value)  # the size of the pickle, whatever is stored


def test_unchanged_artifact_is_stored_once(datastore_root: Path) -> None:
    store = DataStore(datastore_root)
    refs = [store.put_artifact({"weights": list(range(1000))}) for _ in range(5)]
    assert len({ref.sha256 for ref in refs}) == 1
    big = bytes(2 * STAGING_BYTES)
    assert store.put_artifact(big) == store.put_artifact(big)
    assert len(_all_files(datastore_root / "blobs")) == 2


def test_existing_blob_is_not_rewritten(datastore_root: Path) -> None:
    store = DataStore(datastore_root)
    ref = store.put_artifact(os.urandom(2 * STAGING_BYTES))
    path = store.blobs.path(ref.sha256)
    before = path.stat()
    time.sleep(0.01)
    store.put_artifact(store.blobs.load(ref.sha256))
    after = path.stat()
    assert before.st_ino == after.st_ino, "the same file, not a rewritten copy"
    assert after.st_mtime_ns > before.st_mtime_ns, "only its time is renewed, which garbage collection reads"


def test_unpicklable_value_leaves_no_file(datastore_root: Path) -> None:
    import threading

    store = DataStore(datastore_root)
    with pytest.raises(TypeError):
        store.put_artifact([bytes(2 * STAGING_BYTES), threading.Lock()])
    assert _all_files(datastore_root) == []


def _write_same_blob(root: str) -> str:
    payload = bytes(range(256)) * (3 * STAGING_BYTES // 256)
    return DataStore(root).put_artifact(payload).sha256


def test_concurrent_writers_of_one_blob(datastore_root: Path) -> None:
    with multiprocessing.get_context("spawn").Pool(4) as pool:
        hashes = pool.map(_write_same_blob, [str(datastore_root)] * 8)
    assert len(set(hashes)) == 1
    store = DataStore(datastore_root)
    assert _all_files(datastore_root) == [store.blobs.path(hashes[0])]
    assert store.blobs.load(store.put_artifact(b"small").sha256) == b"small"


_KILLED_WRITER = textwrap.dedent(
    """
    import os, sys
    from flowkit.datastore import DataStore
    from flowkit.identity import TaskRef
    from flowkit.datastore.fileio import STAGING_BYTES

    class Slow:
        def __reduce__(self):
            print("writing", flush=True)
            import time; time.sleep(60)
            return (bytes, (b"",))

    store = DataStore(sys.argv[1])
    store.put_artifact([os.urandom(3 * STAGING_BYTES), Slow()])
    """
)


def test_writer_killed_mid_write_leaves_nothing_trusted(datastore_root: Path) -> None:
    process = subprocess.Popen(
        [sys.executable, "-c", _KILLED_WRITER, str(datastore_root)], stdout=subprocess.PIPE, text=True
    )
    assert process.stdout is not None
    assert process.stdout.readline().strip() == "writing"
    process.send_signal(signal.SIGKILL)
    process.wait()
    store = DataStore(datastore_root)
    leftovers = _all_files(datastore_root)
    assert leftovers, "the killed writer should have streamed part of its blob"
    assert all(path.name.startswith(".tmp-") for path in leftovers)
    assert list((datastore_root / "blobs" / "sha256").glob("??/*")) == [], "no blob was published"
    assert store.list_flows() == []


def test_records_attempts_and_listings(datastore_root: Path) -> None:
    store = DataStore(datastore_root)
    first = TaskRef("F", "r1", "train", (10,))
    second = TaskRef("F", "r1", "train", (2,))
    store.commit(_record(first, 0, "failed"))
    store.commit(_record(first, 1))
    store.commit(_record(second))
    (store.task_dir(first) / ".tmp-2.json.123.0").write_text("{half")
    assert store.list_attempts(first) == [0, 1]
    latest = store.latest_record(first)
    assert latest is not None and latest.attempt == 1 and latest.succeeded
    assert store.list_task_ids("F", "r1", "train") == ["0.2", "0.10"]
    assert store.latest_record(TaskRef("F", "r1", "train", (99,))) is None
    with pytest.raises(DataStoreError, match=r"F/r1/train/0\.99"):
        store.successful_record(TaskRef("F", "r1", "train", (99,)))


def test_failed_latest_attempt_is_not_usable(datastore_root: Path) -> None:
    store = DataStore(datastore_root)
    coords = TaskRef("F", "r1", "start")
    store.commit(_record(coords, 0, "failed"))
    with pytest.raises(DataStoreError, match="failed"):
        store.successful_record(coords)


def test_run_record_written_once_and_runs_listed_newest_first(datastore_root: Path) -> None:
    store = DataStore(datastore_root)
    base = utc_now()
    assert store.write_run(RunRecord(flow="F", run_id="a", created_at=base, parameters={"x": "1"}))
    assert not store.write_run(RunRecord(flow="F", run_id="a", parameters={"x": "2"}))
    store.write_run(RunRecord(flow="F", run_id="b", created_at=base + timedelta(seconds=5)))
    run = store.read_run("F", "a")
    assert run is not None and run.parameters == {"x": "1"}
    assert store.list_runs("F") == ["b", "a"]
    assert store.list_flows() == ["F"]
    assert store.read_run("F", "missing") is None


def test_logs_only_when_non_empty(datastore_root: Path) -> None:
    store = DataStore(datastore_root)
    coords = TaskRef("F", "r1", "start")
    with store.log_writer(coords, 0, "out") as out, store.log_writer(coords, 0, "err") as err:
        out.write(b"hello\n")
        err.write(b"")
        assert not store.log_path(coords, 0, "out").exists(), "a log is published only when complete"
    assert store.read_log(coords, 0, "out") == "hello\n"
    assert not store.log_path(coords, 0, "err").exists()
    assert store.read_log(coords, 0, "err") == ""


def test_a_timestamped_log_stamps_each_line_once_however_the_chunks_fall(datastore_root: Path) -> None:
    store = DataStore(datastore_root)
    coords = TaskRef("F", "r1", "start")
    with store.log_writer(coords, 0, "out", timestamped=True) as out:
        for chunk in (b"one\ntw", b"o", b"\n", b"three\nfour\n\nsix"):
            out.write(chunk)
    lines = store.read_log(coords, 0, "out").split("\n")
    stamp = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z "
    assert [re.sub(f"^{stamp}", "", line) for line in lines] == ["one", "two", "three", "four", "", "six"]
    assert all(re.match(stamp, line) for line in lines)


def test_compression_can_be_turned_off_for_the_rest_of_the_process(datastore_root: Path) -> None:
    """What a pod does: every blob then stays a plain pickle, readable by any CPython."""
    code = f"""
from flowkit.datastore import DataStore
from flowkit.datastore.blob_format import write_uncompressed_blobs
store = DataStore({str(datastore_root)!r})
write_uncompressed_blobs()
ref = store.put_artifact(bytes(4 << 20))
print(store.blobs.path(ref.sha256).stat().st_size - ref.size)
"""
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert 0 <= int(result.stdout) < 64, "the stored blob is the pickle itself"


def test_clone_task_reuses_blobs(datastore_root: Path) -> None:
    store = DataStore(datastore_root)
    coords = TaskRef("F", "old", "train", (1,))
    ref = store.put_artifact([1, 2, 3])
    store.commit(_record(coords, 2, artifacts={"x": ref}))
    with store.log_writer(coords, 2, "out") as out:
        out.write(b"trained\n")
    blobs_before = _all_files(datastore_root / "blobs")
    original = store.latest_record(coords)
    assert original is not None
    clone = store.clone_task(original, "new")
    target = TaskRef("F", "new", "train", (1,))
    reread = store.latest_record(target)
    assert reread == clone and reread.origin_run_id == "old" and reread.artifacts == {"x": ref}
    assert store.read_log(target, 2, "out") == "trained\n"
    assert _all_files(datastore_root / "blobs") == blobs_before


def _write_distinct_blob(root: str, seed: int) -> tuple[str, bytes]:
    payload = bytes([seed]) * (3 * STAGING_BYTES + seed)
    store = DataStore(root)
    return store.put_artifact(payload).sha256, payload[:1]


def test_forked_writers_do_not_share_staging_buffers(datastore_root: Path) -> None:
    store = DataStore(datastore_root)
    store.blobs.load(store.put_artifact(os.urandom(2 * STAGING_BYTES)).sha256)  # the parent now pools buffers
    with multiprocessing.get_context("fork").Pool(4) as pool:
        written = pool.starmap(_write_distinct_blob, [(str(datastore_root), seed) for seed in range(1, 9)])
    for sha256, first_byte in written:
        value = store.blobs.load(sha256)
        assert value == first_byte * len(value)


def test_a_clone_is_the_origin_record_linked_and_reads_as_a_record_of_its_new_run(datastore_root: Path) -> None:
    from flowkit.identity import TaskRef

    store = DataStore(datastore_root)
    ref = store.put_artifact([1, 2, 3])
    record = TaskRecord(
        flow="F", run_id="origin", step="work", task_id="0.4", index_path=[4], attempt=1, status="succeeded",
        started_at=utc_now(), finished_at=utc_now(), artifacts={"items": ref},
    )  # fmt: skip
    store.commit(record)
    store.clone_task(record, "resumed")
    again = store.clone_task(store.successful_record(TaskRef("F", "resumed", "work", (4,))), "resumed-again")
    origin_path = store.record_path(record.coordinates, 1)
    for run_id in ("resumed", "resumed-again"):
        task = TaskRef("F", run_id, "work", (4,))
        assert store.record_path(task, 1).stat().st_ino == origin_path.stat().st_ino, "a link: no bytes written"
        clone = store.successful_record(task)
        assert (clone.run_id, clone.origin_run_id, clone.artifacts) == (run_id, "origin", {"items": ref})
    assert again.origin_run_id == "origin"
    with pytest.raises(AlreadyCommittedError):
        store.clone_task(record, "resumed")


def test_cloning_a_batch_marks_each_origin_once_and_a_record_gone_meanwhile_is_one_error(datastore_root: Path) -> None:
    store = DataStore(datastore_root)
    records = [
        TaskRecord(
            flow="F", run_id="origin", step="work", task_id=f"0.{i}", index_path=[i], status="succeeded",
            started_at=utc_now(), finished_at=utc_now(),
        )
        for i in range(3)
    ]  # fmt: skip
    for record in records:
        store.commit(record)
    origin_dir = store.run_dir("F", "origin")
    os.utime(origin_dir, (0, 0))
    clones = store.clone_tasks(records[:2], "resumed")
    assert [clone.task_id for clone in clones] == ["0.0", "0.1"] and origin_dir.stat().st_mtime > 0
    # gc takes an origin away for a moment before it puts it back (`gc._take_away`): a link then finds nothing.
    store.record_path(records[2].coordinates, 0).unlink()
    with pytest.raises(DataStoreError, match="origin run F/origin no longer exists"):
        store.clone_tasks(records[2:], "resumed")


def test_a_store_reads_the_tasks_it_cloned_from_memory_and_another_store_from_their_files(
    datastore_root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A join forked from a resuming scheduler reads its reused inputs without listing and parsing 200 files."""
    store = DataStore(datastore_root)
    record = TaskRecord(
        flow="F", run_id="origin", step="work", task_id="0.1", index_path=[1], status="succeeded",
        started_at=utc_now(), finished_at=utc_now(), artifacts={"x": store.put_artifact(1)},
    )  # fmt: skip
    store.commit(record)
    [clone] = store.clone_tasks([record], "resumed")
    task = TaskRef("F", "resumed", "work", (1,))
    from_files = DataStore(datastore_root).successful_record(task)
    monkeypatch.setattr(DataStore, "_record_at", lambda *_: pytest.fail("a clone's file was read again"))
    assert store.successful_record(task) is clone
    assert from_files == clone and from_files.origin_run_id == "origin" and from_files.run_id == "resumed"
