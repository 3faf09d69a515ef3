"""Writing artifacts: pickle once, hash while writing, compress only where a sample says it pays.

The blob name is the sha256 of the pickle stream (protocol 5), so two tasks that set an equal value share one
blob whatever the compression decision. Large payloads go to disk through an aligned staging buffer with
``O_DIRECT`` where the filesystem allows it: filling the page cache costs more than the disk write itself on
virtual machines, and a blob is read back at most a few times. A payload that fits the staging buffer is hashed
before any file is created, so storing an artifact that already exists costs no I/O at all.
"""

from __future__ import annotations

import errno
import fcntl
import hashlib
import mmap
import os
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

PICKLE_PROTOCOL = 5
STAGING_BYTES = 8 << 20
"""Size of the aligned staging buffer: one ``O_DIRECT`` write per filled buffer."""
COMPRESSION_SAMPLE_BYTES = 1 << 20
"""How much of the stream is test-compressed before deciding whether the rest is compressed."""
COMPRESSION_MIN_BYTES = 64 << 10
"""Below this size, compression cannot save enough to matter."""
COMPRESSION_MAX_RATIO = 0.5
"""Compress only when the sample shrinks to at most this fraction: decompression must beat reading the bytes."""
ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"

_staging_pool: list[mmap.mmap] = []
"""Page-aligned buffers reused by writers and readers of this process."""


def zstd_module() -> Any:
    """The zstandard module, or None: without it blobs are stored uncompressed (always readable)."""
    try:
        import zstandard
    except ImportError:
        return None
    return zstandard


def borrow_staging() -> mmap.mmap:
    """A page-aligned buffer; reused within a process so its pages are faulted in once.

    Private, not shared, mapping: task processes are forked from a parent that may have pooled buffers, and each
    child must get its own copy rather than scribble over its siblings' staged bytes.
    """
    if _staging_pool:
        return _staging_pool.pop()
    return mmap.mmap(-1, STAGING_BYTES, flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS)


def return_staging(buffer: mmap.mmap) -> None:
    _staging_pool.append(buffer)


class _DirectFile:
    """Append-only file writer that uses ``O_DIRECT`` for whole staging buffers and plain writes for the tail."""

    def __init__(self, path: Path) -> None:
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL
        self._direct = hasattr(os, "O_DIRECT")
        try:
            self.fd = os.open(path, flags | (os.O_DIRECT if self._direct else 0), 0o644)
        except OSError as error:
            if error.errno != errno.EINVAL:
                raise
            self._direct = False
            self.fd = os.open(path, flags, 0o644)

    def write_aligned(self, view: memoryview) -> None:
        """Write a whole staging buffer (aligned address, size and offset); fall back to plain writes on EINVAL."""
        while view:
            try:
                written = os.write(self.fd, view)
            except OSError as error:
                if not self._direct or error.errno != errno.EINVAL:
                    raise
                self._leave_direct_mode()  # the filesystem refuses direct I/O: go on through the page cache
                continue
            view = view[written:]

    def finish(self, tail: memoryview) -> None:
        """Write the unaligned tail through the page cache, then make the file durable."""
        self._leave_direct_mode()
        self._write_all(tail)
        os.fsync(self.fd)
        os.close(self.fd)

    def abort(self) -> None:
        os.close(self.fd)

    def _leave_direct_mode(self) -> None:
        if self._direct:
            fcntl.fcntl(self.fd, fcntl.F_SETFL, fcntl.fcntl(self.fd, fcntl.F_GETFL) & ~os.O_DIRECT)
            self._direct = False

    def _write_all(self, view: memoryview) -> None:
        while view:
            view = view[os.write(self.fd, view) :]


class BlobSink:
    """The file object ``pickle.dump`` writes to: hashes the stream, decides on compression, stages the output.

    ``open_temp`` is called only when the stored bytes outgrow the staging buffer; otherwise :meth:`close` hands
    the small payload back so the caller can skip writing a blob that already exists.
    """

    def __init__(self, open_temp: Callable[[], Path]) -> None:
        self._open_temp = open_temp
        self.sha = hashlib.sha256()
        self.size = 0
        self.compressed: bool | None = None  # undecided until the sample is full
        self._pending: list[bytes] = []
        self._pending_size = 0
        self._compressor: Any = None
        self._staging = borrow_staging()
        self._fill = 0
        self._file: _DirectFile | None = None
        self.temp_path: Path | None = None

    def write(self, data: Any) -> int:
        view = memoryview(data).cast("B")
        written = len(view)
        self.size += written
        if self.compressed is None:
            needed = COMPRESSION_SAMPLE_BYTES - self._pending_size
            head = bytes(view[:needed])
            self.sha.update(head)
            self._pending.append(head)
            self._pending_size += len(head)
            if self._pending_size < COMPRESSION_SAMPLE_BYTES:
                return written
            sample = b"".join(self._pending)
            self._decide(sample)
            self._emit(sample)
            view = view[needed:]
        self._hash_and_emit(view)
        return written

    def _hash_and_emit(self, view: memoryview) -> None:
        """Hash and store ``view``; large payloads are hashed in a helper thread while the previous piece is written.

        ``sha256.update`` and ``os.write`` both release the GIL, so the two overlap; the thread is joined before
        this returns, so no thread outlives the call (the local runtime forks task processes).
        """
        if len(view) < STAGING_BYTES:
            self.sha.update(view)
            self._emit(view)
            return
        for start in range(0, len(view), STAGING_BYTES):
            piece = view[start : start + STAGING_BYTES]
            hasher = threading.Thread(target=self.sha.update, args=(piece,))
            hasher.start()
            try:
                self._emit(piece)
            finally:
                hasher.join()

    def close(self) -> bytes | None:
        """Flush everything; returns the stored bytes if they never left memory, else None (temp file is complete)."""
        if self.compressed is None:
            sample = b"".join(self._pending)
            self._decide(sample)
            self._emit(sample)
        if self._compressor is not None:
            self._stage(memoryview(self._compressor.flush()))
        try:
            tail = memoryview(self._staging)[: self._fill]
            if self._file is None:
                return bytes(tail)
            self._file.finish(tail)
            return None
        finally:
            return_staging(self._staging)

    def abort(self) -> None:
        """Drop a half-written stream (the pickler failed): close and remove the temporary file."""
        if self._file is not None:
            self._file.abort()
        if self.temp_path is not None:
            self.temp_path.unlink(missing_ok=True)
        return_staging(self._staging)

    def _decide(self, sample: bytes) -> None:
        zstd = zstd_module()
        self.compressed = False
        if zstd is not None and len(sample) >= COMPRESSION_MIN_BYTES:
            compressor = zstd.ZstdCompressor(level=1)
            if len(compressor.compress(sample)) <= COMPRESSION_MAX_RATIO * len(sample):
                self.compressed = True
                self._compressor = compressor.compressobj()

    def _emit(self, view: memoryview | bytes) -> None:
        if self._compressor is not None:
            view = self._compressor.compress(view)
        self._stage(memoryview(view))

    def _stage(self, view: memoryview) -> None:
        while view:
            taken = min(len(view), STAGING_BYTES - self._fill)
            self._staging[self._fill : self._fill + taken] = view[:taken]
            self._fill += taken
            view = view[taken:]
            if self._fill == STAGING_BYTES:
                if self._file is None:
                    self.temp_path = self._open_temp()
                    self._file = _DirectFile(self.temp_path)
                self._file.write_aligned(memoryview(self._staging))
                self._fill = 0


def dump_artifact(value: Any, sink: BlobSink) -> None:
    """Pickle ``value`` into ``sink`` (cloudpickle, so lambdas and classes defined in ``__main__`` survive)."""
    import cloudpickle

    cloudpickle.dump(value, sink, protocol=PICKLE_PROTOCOL)
