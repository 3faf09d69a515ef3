"""The blob format and its fast paths: raw pickles, framed zstd with a seek table, parallel reads and writes,
blobs written by earlier versions, direct-I/O fallbacks and what a failed write leaves behind."""

from __future__ import annotations

import errno
import fcntl
import hashlib
import os
import pickle
import struct
import threading
from pathlib import Path
from typing import Any

import cloudpickle
import pytest
import zstandard

from flowkit.datastore import DataStore, blob_format, blob_reader, blob_writer
from flowkit.datastore.blob_format import FRAME_BYTES, SEEKABLE_MAGIC, ZSTD_MAGIC
from flowkit.datastore.fileio import STAGING_BYTES
from flowkit.datastore.verify import DIGEST_FRAME_BYTES, CorruptBlobError
from flowkit.errors import DataStoreError
from tests.support.blob_threads import split_blob_work

MIB = 1 << 20


def _pickle(value: Any) -> bytes:
    return cloudpickle.dumps(value, protocol=blob_format.PICKLE_PROTOCOL)


def _pattern(size: int) -> bytes:
    """Compressible but not trivial: a short repeated cycle, cut at an odd size."""
    return (bytes(range(251)) * (size // 251 + 1))[:size]


def _blob_files(root: Path) -> list[Path]:
    return sorted(path for path in (root / "blobs").rglob("*") if path.is_file())


@pytest.fixture
def small_units(monkeypatch: pytest.MonkeyPatch) -> None:
    """Frames of 256 KiB and parallel work from 1 MiB on, with three threads: every split and frame edge is hit
    by artifacts of a few MiB."""
    monkeypatch.setattr(blob_writer, "FRAME_BYTES", 256 << 10)
    split_blob_work(monkeypatch, 3, parallel_min_bytes=MIB)


def test_a_small_incompressible_blob_is_the_plain_pickle_named_by_its_sha256(datastore_root: Path) -> None:
    store = DataStore(datastore_root)
    value = os.urandom(3 * MIB + 7)
    ref = store.put_artifact(value)
    blob = store.blobs.path(ref.sha256).read_bytes()
    assert blob == _pickle(value) and ref.size == len(blob)
    assert ref.sha256 == hashlib.sha256(blob).hexdigest()


def _digest_listed(stream: bytes, frame_bytes: int) -> tuple[bytes, str]:
    """The blob a digest-listed stream is stored as, and its name, computed here from the format's definition."""
    frames = [stream[start : start + frame_bytes] for start in range(0, len(stream), frame_bytes)]
    digest_list = b"".join(hashlib.sha256(frame).digest() for frame in frames)
    digest_list += struct.pack("<QI4s", len(stream), frame_bytes, b"FKd1")
    return stream + digest_list, hashlib.sha256(digest_list).hexdigest()


@pytest.mark.parametrize("workers", [1, 3])
@pytest.mark.parametrize(
    "value",
    [
        lambda: os.urandom(2 * STAGING_BYTES + 4097),
        lambda: [os.urandom(STAGING_BYTES - 5), b"x" * 1000, os.urandom(3 * STAGING_BYTES + 1)],
        lambda: [os.urandom(100_000) for _ in range(300)],
    ],
    ids=["one large buffer", "buffers across frame edges", "many small buffers"],
)
def test_a_large_incompressible_blob_is_the_pickle_followed_by_its_digest_list(
    datastore_root: Path, monkeypatch: pytest.MonkeyPatch, value: Any, workers: int
) -> None:
    """The name is the sha256 of a list of the sha256 of each frame of the pickle, whichever thread hashed which."""
    split_blob_work(monkeypatch, workers)
    store = DataStore(datastore_root)
    artifact = value()
    ref = store.put_artifact(artifact)
    stream = _pickle(artifact)
    blob, name = _digest_listed(stream, DIGEST_FRAME_BYTES)
    assert store.blobs.path(ref.sha256).read_bytes() == blob
    assert ref.sha256 == name and ref.size == len(stream)
    assert store.blobs.load(ref.sha256) == artifact


def test_a_large_raw_blob_starts_its_writeback_before_the_final_fsync(
    datastore_root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every byte of the stream is handed to the disk while later frames are still being written, so the fsync that
    makes the blob durable waits only for the last ones."""
    started: list[tuple[int, int]] = []
    real = blob_writer.start_writeback

    def recording(fd: int, offset: int, length: int) -> None:
        started.append((offset, offset + length))
        real(fd, offset, length)

    monkeypatch.setattr(blob_writer, "start_writeback", recording)
    value = [os.urandom(STAGING_BYTES + 3), os.urandom(3 * STAGING_BYTES)]
    ref = DataStore(datastore_root).put_artifact(value)
    covered = 0
    for start, end in sorted(started):
        assert start <= covered, f"bytes {covered}-{start} were left to the fsync"
        covered = max(covered, end)
    assert covered >= ref.size - DIGEST_FRAME_BYTES, "only the last frame's writeback is left to the fsync"


def test_a_large_raw_blob_of_an_earlier_version_named_by_its_sha256_still_loads(datastore_root: Path) -> None:
    value = os.urandom(3 * STAGING_BYTES + 11)
    blob = _pickle(value)
    name = hashlib.sha256(blob).hexdigest()
    store = DataStore(datastore_root)
    path = store.blobs.path(name)
    path.parent.mkdir(parents=True)
    path.write_bytes(blob)
    assert store.blobs.load(name) == value
    path.write_bytes(blob[:-2] + bytes([blob[-2] ^ 1]) + blob[-1:])
    with pytest.raises(CorruptBlobError, match="its bytes hash to"):
        store.blobs.load(name)


def test_compressible_blob_is_framed_zstd_with_a_seek_table(datastore_root: Path) -> None:
    store = DataStore(datastore_root)
    value = _pattern(3 * FRAME_BYTES + 12345)
    ref = store.put_artifact(value)
    blob = store.blobs.path(ref.sha256).read_bytes()
    assert blob.startswith(ZSTD_MAGIC) and len(blob) < len(value) // 20
    count, descriptor, magic = blob_format._SEEK_FOOTER.unpack(blob[-blob_format._SEEK_FOOTER.size :])
    assert magic == SEEKABLE_MAGIC and descriptor == 0
    assert count == -(-ref.size // FRAME_BYTES), "one frame per FRAME_BYTES of pickle"
    # Any zstd decoder sees the pickle: the seek table is a skippable frame.
    decoded = zstandard.ZstdDecompressor().stream_reader(blob, read_across_frames=True).read()
    assert decoded == _pickle(value)


def test_compression_is_decided_on_the_head_of_the_stream(datastore_root: Path) -> None:
    store = DataStore(datastore_root)
    random_head = os.urandom(2 * MIB) + bytes(6 * MIB)
    zeros_head = bytes(2 * MIB) + os.urandom(6 * MIB)
    tiny = bytes(blob_format.COMPRESSION_MIN_BYTES // 2)
    for value, compressed in [(random_head, False), (zeros_head, True), (tiny, False)]:
        ref = store.put_artifact(value)
        assert store.blobs.path(ref.sha256).read_bytes().startswith(ZSTD_MAGIC) is compressed
        assert store.blobs.load(ref.sha256) == value


def _values() -> dict[str, Any]:
    numpy = pytest.importorskip("numpy")
    floats = numpy.linspace(0.0, 1.0, 600_001)
    return {
        "random": os.urandom(5 * MIB + 3),
        "compressible": _pattern(5 * MIB + 3),
        "bytearray": bytearray(_pattern(4 * MIB + 1)),
        "mid-frame buffers": [b"head" * 10, _pattern(3 * MIB + 11), {"k": list(range(1000))}, os.urandom(2 * MIB + 5)],
        "numpy C and Fortran order": [floats, numpy.asfortranarray(floats[:600_000].reshape(600, 1000))],
        "empty": b"",
        "zeros": bytes(5 * MIB + 3),
        "zeros with islands": _islands(5 * MIB + 3),
    }


def _islands(size: int) -> bytearray:
    """Mostly zeros, with a non-zero byte at frame, check-chunk and page boundaries and inside some frames."""
    value = bytearray(size)
    for offset in (0, 4095, 4096, (256 << 10) - 1, 256 << 10, MIB + 17, 3 * MIB, size - 1):
        value[offset] = 0xA5
    return value


@pytest.mark.parametrize("name", list(_values()))
def test_round_trip_through_every_split_and_frame_edge(datastore_root: Path, small_units: None, name: str) -> None:
    value = _values()[name]
    store = DataStore(datastore_root)
    threads_before = threading.active_count()
    loaded = store.blobs.load(store.put_artifact(value).sha256)
    assert pickle.dumps(loaded, protocol=5) == pickle.dumps(value, protocol=5)
    assert threading.active_count() == threads_before, "helper threads are joined before a call returns"


def test_equal_artifacts_share_one_blob_whatever_the_thread_count(
    datastore_root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    value = [_pattern(3 * FRAME_BYTES + 1), os.urandom(2 * STAGING_BYTES + 1)]
    store = DataStore(datastore_root)
    refs = []
    for workers in (1, 3):
        split_blob_work(monkeypatch, workers, parallel_min_bytes=MIB)
        refs.append(store.put_artifact(value))
    assert refs[0] == refs[1]
    assert _blob_files(datastore_root) == [store.blobs.path(refs[0].sha256)]


def test_a_zstd_stream_without_a_seek_table_is_refused_in_one_line(datastore_root: Path) -> None:
    """flowkit compresses only into frames followed by a seek table; any other zstd file is not one of its blobs."""
    blob = zstandard.ZstdCompressor(level=1).compress(_pickle({"name": "model"}))
    name = hashlib.sha256(blob).hexdigest()
    store = DataStore(datastore_root)
    path = store.blobs.path(name)
    path.parent.mkdir(parents=True)
    path.write_bytes(blob)
    with pytest.raises(DataStoreError, match=f"blob {path} is zstd without a seek table"):
        store.blobs.load(name)


def _rewrite_seek_entry(path: Path, index: int, extra: int) -> str:
    """Store a copy of the blob at ``path`` whose seek table adds ``extra`` to frame ``index``'s decompressed size,
    under its own name (so that it is intact as a blob); returns that name."""
    blob = bytearray(path.read_bytes())
    count = blob_format._SEEK_FOOTER.unpack(blob[-blob_format._SEEK_FOOTER.size :])[0]
    entries_start = len(blob) - blob_format._SEEK_FOOTER.size - count * blob_format._SEEK_ENTRY.size
    offset = entries_start + index * blob_format._SEEK_ENTRY.size
    compressed, decompressed = blob_format._SEEK_ENTRY.unpack_from(blob, offset)
    blob_format._SEEK_ENTRY.pack_into(blob, offset, compressed, decompressed + extra)
    name = hashlib.sha256(blob).hexdigest()
    copy = path.parent.parent / name[:2] / name
    copy.parent.mkdir(exist_ok=True)
    copy.write_bytes(bytes(blob))
    return name


@pytest.mark.parametrize("extra", [1, -1], ids=["frame-shorter-than-recorded", "frame-longer-than-recorded"])
@pytest.mark.parametrize("frame", [0, -1], ids=["first-frame", "last-frame"])
def test_a_seek_table_that_disagrees_with_its_frames_is_an_error(datastore_root: Path, frame: int, extra: int) -> None:
    store = DataStore(datastore_root)
    ref = store.put_artifact(_pattern(3 * FRAME_BYTES + 99))
    path = store.blobs.path(ref.sha256)
    count = blob_format._SEEK_FOOTER.unpack(path.read_bytes()[-blob_format._SEEK_FOOTER.size :])[0]
    name = _rewrite_seek_entry(path, frame % count, extra)
    with pytest.raises(DataStoreError, match="does not match its seek table"):
        store.blobs.load(name)


def _refuse_direct_io(monkeypatch: pytest.MonkeyPatch, name: str) -> list[int]:
    """Make ``os.<name>`` fail with EINVAL on a file opened for direct I/O, as some filesystems do."""
    real = getattr(os, name)
    refused: list[int] = []

    def refusing(fd: int, *args: Any) -> Any:
        if fcntl.fcntl(fd, fcntl.F_GETFL) & os.O_DIRECT:
            refused.append(fd)
            raise OSError(errno.EINVAL, "direct I/O refused")
        return real(fd, *args)

    monkeypatch.setattr(os, name, refusing)
    return refused


@pytest.mark.skipif(not hasattr(os, "O_DIRECT"), reason="no direct I/O on this platform")
def test_filesystems_refusing_direct_io_get_plain_io(datastore_root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Direct I/O writes compressed blobs too large to stay in memory, and reads large blobs named by their sha256."""
    compressible = os.urandom(40 * MIB).translate(bytes(byte % 4 for byte in range(256)))  # shrinks to about 30 %
    store = DataStore(datastore_root)
    with monkeypatch.context() as refused_writes:
        writes = _refuse_direct_io(refused_writes, "pwrite")
        compressed = store.put_artifact(compressible)
    assert store.blobs.path(compressed.sha256).stat().st_size > STAGING_BYTES
    raw = os.urandom(3 * STAGING_BYTES + 1234)
    blob = _pickle(raw)
    name = hashlib.sha256(blob).hexdigest()
    store.blobs.path(name).parent.mkdir(parents=True, exist_ok=True)
    store.blobs.path(name).write_bytes(blob)
    reads = _refuse_direct_io(monkeypatch, "preadv")
    assert store.blobs.load(compressed.sha256) == compressible
    assert store.blobs.load(name) == raw
    assert writes and reads, "direct I/O was attempted, refused, and both sides went on without it"


def test_a_failed_flush_publishes_nothing_and_leaves_nothing(
    datastore_root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def failing_fsync(fd: int) -> None:
        raise OSError(errno.EIO, "disk gone")

    store = DataStore(datastore_root)
    monkeypatch.setattr(os, "fsync", failing_fsync)
    with pytest.raises(OSError, match="disk gone"):
        store.put_artifact(os.urandom(2 * STAGING_BYTES))
    assert _blob_files(datastore_root) == []


def test_zero_frames_are_the_frames_compression_gives(datastore_root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Frames found to be zeros are not compressed but copied from one compression of zeros: same bytes, same name."""
    value = [bytes(3 * FRAME_BYTES + 5), _islands(2 * FRAME_BYTES), b"tail"]
    shortcut_ref = DataStore(datastore_root / "shortcut").put_artifact(value)
    monkeypatch.setattr(blob_writer, "is_zero", lambda view: False)
    compressed_ref = DataStore(datastore_root / "compressed").put_artifact(value)
    assert shortcut_ref == compressed_ref
    shortcut_blob = DataStore(datastore_root / "shortcut").blobs.path(shortcut_ref.sha256).read_bytes()
    assert shortcut_blob == DataStore(datastore_root / "compressed").blobs.path(compressed_ref.sha256).read_bytes()


def _compressed_frames(blob: bytes) -> list[bytes]:
    """Each frame of a framed blob, as stored, in order (read from its seek table)."""
    count = blob_format._SEEK_FOOTER.unpack(blob[-blob_format._SEEK_FOOTER.size :])[0]
    entries_start = len(blob) - blob_format._SEEK_FOOTER.size - count * blob_format._SEEK_ENTRY.size
    frames, offset = [], 0
    for index in range(count):
        compressed, _ = blob_format._SEEK_ENTRY.unpack_from(blob, entries_start + index * blob_format._SEEK_ENTRY.size)
        frames.append(blob[offset : offset + compressed])
        offset += compressed
    return frames


def test_zero_frames_are_not_decompressed_into_a_buffer_that_is_already_zero(
    datastore_root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Large enough that the unpickler's buffer is a fresh mapping, which reads as zeros (smaller ones may reuse freed
    heap memory, and are then decompressed as usual)."""
    store = DataStore(datastore_root)
    value = bytes(12 * FRAME_BYTES)
    ref = store.put_artifact(value)
    blob = store.blobs.path(ref.sha256).read_bytes()
    frames = _compressed_frames(blob)
    zero_frame = blob_format.zero_frame(FRAME_BYTES)
    assert frames.count(zero_frame) == 11, "the pickle's head and tail share the first and last frames with zeros"
    decompressed: list[bytes] = []

    class Spy:
        def __init__(self, real: Any) -> None:
            self.real = real

        def stream_reader(self, compressed: bytes) -> Any:
            decompressed.append(compressed)
            return self.real.stream_reader(compressed)

    real = blob_reader._FramedStream._decompressor
    monkeypatch.setattr(blob_reader._FramedStream, "_decompressor", lambda self, slot: Spy(real(self, slot)))
    assert store.blobs.load(ref.sha256) == value
    assert decompressed and zero_frame not in decompressed


def test_zero_frames_overwrite_a_buffer_that_is_not_zero(datastore_root: Path) -> None:
    """The unpickler's buffer is usually fresh memory, but nothing promises it: stale bytes must still be replaced."""
    store = DataStore(datastore_root)
    ref = store.put_artifact(bytes(3 * FRAME_BYTES))
    path = store.blobs.path(ref.sha256)
    fd = os.open(path, os.O_RDONLY)
    try:
        frames = blob_format.read_seek_table(fd, os.fstat(fd).st_size)
        assert frames is not None
        stream = blob_reader._FramedStream(fd, frames, path)
        target = bytearray(b"\xff" * stream._size)
        assert stream.readinto(target) == len(target)
    finally:
        os.close(fd)
    assert target == _pickle(bytes(3 * FRAME_BYTES))
