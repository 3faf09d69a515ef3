"""Every read of a blob is checked against its name: one flipped byte anywhere in any kind of blob is an error
naming the artifact, the task and the blob's path, through the datastore, in a downstream step and in the client."""

from __future__ import annotations

import hashlib
import os
import re
import sys
import threading
import types
from pathlib import Path
from typing import Any

import pytest

from flowkit.client import Task
from flowkit.datastore import DataStore
from flowkit.datastore.blob_format import FRAME_BYTES, ZSTD_MAGIC
from flowkit.datastore.fileio import STAGING_BYTES
from flowkit.datastore.verify import CorruptBlobError
from flowkit.errors import DataStoreError
from flowkit.identity import TaskRef
from flowkit.task.executor import execute_task
from tests.execution import flows
from tests.support.blob_threads import split_blob_work

MIB = 1 << 20


def _pattern(size: int) -> bytes:
    return (bytes(range(251)) * (size // 251 + 1))[:size]


KINDS: dict[str, Any] = {
    "small raw": lambda: {"x": os.urandom(100_000)},
    "large raw": lambda: os.urandom(3 * STAGING_BYTES + 5),
    "framed zstd": lambda: _pattern(3 * FRAME_BYTES + 7),
    "zero frames": lambda: bytes(3 * FRAME_BYTES + 7),
}


def _flip(path: Path, offset: int) -> None:
    data = bytearray(path.read_bytes())
    data[offset % len(data)] ^= 0x40
    path.write_bytes(bytes(data))


@pytest.fixture
def parallel_reads(monkeypatch: pytest.MonkeyPatch) -> None:
    """Large reads split from 1 MiB on, over three threads, so the pieces hashed in file order are many."""
    split_blob_work(monkeypatch, 3, parallel_min_bytes=MIB)


def _expected_detail(kind: str, path: Path, offset: int, stream_size: int) -> str:
    """What the error says about a blob of ``kind`` whose byte ``offset`` was flipped (a regular expression)."""
    if kind != "large raw":  # named by the sha256 of the whole file
        return f"its bytes hash to {hashlib.sha256(path.read_bytes()).hexdigest()}, not to its name"
    size = path.stat().st_size
    if offset < stream_size:
        return r"its bytes (\d+)-(\d+) do not hash to the digest its list holds"
    if offset < size - 16:
        return "its digest list hashes to [0-9a-f]{64}, not to its name"
    if offset < size - 4:
        return "its footer does not describe its size"
    # A damaged magic leaves no digest list to go by: the file is then checked as a whole, against the name.
    return f"its bytes hash to {hashlib.sha256(path.read_bytes()).hexdigest()}, not to its name"


@pytest.mark.parametrize(
    "where", [0, 1 / 3, 0.999, -1, -10, -17], ids=["first", "early", "late", "last", "footer", "digest list"]
)
@pytest.mark.parametrize("kind", list(KINDS))
def test_a_flipped_byte_in_any_kind_of_blob_is_reported_not_loaded(
    datastore_root: Path, parallel_reads: None, kind: str, where: float
) -> None:
    store = DataStore(datastore_root)
    ref = store.put_artifact(KINDS[kind]())
    path = store.blobs.path(ref.sha256)
    size = path.stat().st_size
    offset = int(where * size) if where >= 0 else size + int(where)
    _flip(path, offset)
    threads_before = threading.active_count()
    with pytest.raises(CorruptBlobError) as raised:
        store.blobs.load(ref.sha256)
    assert raised.value.path == path
    detail = _expected_detail(kind, path, offset, ref.size)
    match = re.fullmatch(rf"blob {re.escape(str(path))} is corrupt: {detail}", str(raised.value))
    assert match is not None, str(raised.value)
    if match.groups():  # the damaged frame is the one named
        assert int(match.group(1)) <= offset < int(match.group(2))
    assert threading.active_count() == threads_before, "no helper thread outlives a failed read"


@pytest.mark.parametrize("kind", list(KINDS))
def test_intact_blobs_of_every_kind_load(datastore_root: Path, parallel_reads: None, kind: str) -> None:
    store = DataStore(datastore_root)
    value = KINDS[kind]()
    assert store.blobs.load(store.put_artifact(value).sha256) == value


def test_a_corrupt_zstd_frame_is_reported_as_corruption_not_as_a_zstd_error(datastore_root: Path) -> None:
    store = DataStore(datastore_root)
    ref = store.put_artifact(_pattern(3 * FRAME_BYTES))
    path = store.blobs.path(ref.sha256)
    assert path.read_bytes().startswith(ZSTD_MAGIC)
    _flip(path, 10)  # inside the first frame's header
    with pytest.raises(DataStoreError, match=r"artifact 'weights' of task F/1/s/0: blob .* is corrupt"):
        store.load_artifact(ref, artifact="weights", task="F/1/s/0")


@pytest.mark.parametrize("change", [b"\0", -1, -(1 << 20)], ids=["appended", "last byte cut", "a frame cut"])
@pytest.mark.parametrize("kind", ["small raw", "large raw"])
def test_a_blob_whose_length_changed_is_corruption(datastore_root: Path, kind: str, change: bytes | int) -> None:
    store = DataStore(datastore_root)
    ref = store.put_artifact(KINDS[kind]())
    path = store.blobs.path(ref.sha256)
    blob = path.read_bytes()
    path.write_bytes(blob + change if isinstance(change, bytes) else blob[:change])
    with pytest.raises(CorruptBlobError, match="its bytes hash to"):
        store.blobs.load(ref.sha256)


def test_a_missing_blob_names_artifact_task_and_path(datastore_root: Path) -> None:
    store = DataStore(datastore_root)
    ref = store.put_artifact(b"payload")
    path = store.blobs.path(ref.sha256)
    path.unlink()
    with pytest.raises(DataStoreError, match=rf"artifact 'x' of task T: blob {path} is missing"):
        store.load_artifact(ref, artifact="x", task="T")


def _corrupt_every_blob(root: Path) -> None:
    for path in (root / "blobs").rglob("*"):
        if path.is_file():
            _flip(path, path.stat().st_size // 2)


def test_a_downstream_step_fails_naming_artifact_task_and_blob(datastore_root: Path) -> None:
    start = TaskRef("LinearFlow", "r1", "start")
    assert execute_task(flows.LinearFlow, datastore_root, start, parameters={}).record.succeeded
    _corrupt_every_blob(datastore_root)
    middle = execute_task(flows.LinearFlow, datastore_root, TaskRef("LinearFlow", "r1", "middle"))
    assert not middle.record.succeeded and middle.record.error is not None
    message = middle.record.error.message
    assert "of task LinearFlow/r1/middle/0: blob " in message and "is corrupt" in message
    assert "artifact 'greeting'" in message or "artifact 'count'" in message


def test_the_client_refuses_a_corrupt_artifact(datastore_root: Path) -> None:
    start = TaskRef("LinearFlow", "r1", "start")
    execute_task(flows.LinearFlow, datastore_root, start, parameters={})
    _corrupt_every_blob(datastore_root)
    task = Task("LinearFlow/r1/start/0", datastore_root=datastore_root)
    with pytest.raises(DataStoreError, match=r"artifact 'big' of task LinearFlow/r1/start/0: blob .* is corrupt"):
        _ = task.data.big


@pytest.mark.parametrize("kind", ["small raw", "large raw"])
def test_an_intact_blob_that_cannot_be_unpickled_here_raises_the_unpickling_error(
    datastore_root: Path, monkeypatch: pytest.MonkeyPatch, kind: str
) -> None:
    """A class whose module this process cannot import is not damage: the check passes and the error stands."""
    module = types.ModuleType("flowkit_vanishing_module")
    module.Thing = type("Thing", (), {"__module__": module.__name__})  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, module.__name__, module)
    store = DataStore(datastore_root)
    ref = store.put_artifact([KINDS[kind](), module.Thing()])
    monkeypatch.delitem(sys.modules, module.__name__)
    with pytest.raises(ModuleNotFoundError, match="flowkit_vanishing_module"):
        store.blobs.load(ref.sha256)
