"""Writing a blob (its format is in :mod:`flowkit.datastore.blob_format`): `dump_artifact` pickles an artifact into
a `BlobSink`, which decides on compression, hashes what the blob will hold and stores it.

The pickler hands each large buffer (``bytes``, ``bytearray``, the protocol-5 ``PickleBuffer`` of a numpy array) to
:meth:`BlobSink.write` as it is, without copying it into its own stream. A raw one is written in frames by several
threads straight from its memory into the page cache, each hashing a frame right after writing it, while it is in the
CPU's cache; the writeback to the disk starts as frames are written (:class:`_ListedFile`), and the next step's task
finds the blob in the page cache. Compressible streams are cut into frames compressed by parallel threads; a frame that
is all zeros is recognised by a ``memcmp`` and given the one frame zeros compress into, computed once. Compressed blobs
are staged into an aligned buffer, hashed there, and written with ``O_DIRECT``. The user's large buffers are advised to
use huge pages first (:mod:`flowkit.datastore.pages`), where the huge zero page spares reading zeros that were never
written.
"""

from __future__ import annotations

import errno
import os
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

from flowkit.datastore.atomic import BLOB_FILE_MODE
from flowkit.datastore.blob_format import (
    COMPRESSION_LEVEL,
    COMPRESSION_MAX_RATIO,
    COMPRESSION_MIN_BYTES,
    COMPRESSION_SAMPLE_BYTES,
    FRAME_BYTES,
    IN_MEMORY_BYTES,
    PARALLEL_MIN_BYTES,
    PICKLE_PROTOCOL,
    compressor_module,
    io_workers,
    is_zero,
    run_parallel,
    seek_table,
    split_evenly,
    zero_frame,
    zstd_module,
)
from flowkit.datastore.fileio import (
    STAGING_BYTES,
    borrow_staging,
    pwrite_all,
    return_staging,
    set_direct,
    start_writeback,
)
from flowkit.datastore.pages import advise_huge_pages

# pickle, hashlib and the checks of flowkit.datastore.verify (which need hashlib) are imported where an artifact is
# stored: a task that stores none before its step's first line (a start step without parameters, in a pod) starts
# without them.

FRAMES_PER_WORKER = 8
"""How many frames each thread compresses per batch (see :meth:`BlobSink._compress`)."""


class _DirectFile:
    """Append-only writer of a new compressed blob, hashed whole as it is written: whole staging buffers go out with
    ``O_DIRECT``, the tail through the cache. A filesystem that refuses direct I/O gets plain writes."""

    def __init__(self, path: Path) -> None:
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL
        self._direct = hasattr(os, "O_DIRECT")
        try:
            self.fd = os.open(path, flags | (os.O_DIRECT if self._direct else 0), BLOB_FILE_MODE)
        except OSError as error:
            if error.errno != errno.EINVAL:
                raise
            self._direct = False
            self.fd = os.open(path, flags, BLOB_FILE_MODE)
        import hashlib

        self._sha = hashlib.sha256()
        self._staging = borrow_staging()
        self._written = 0  # the file's size so far; the staging buffer holds what follows
        self._fill = 0

    def append(self, view: memoryview) -> None:
        """Copy ``view`` behind what is staged, hash it there, and write the staging buffer whenever it is full."""
        while view:
            taken = min(len(view), STAGING_BYTES - self._fill)
            staged = memoryview(self._staging)[self._fill : self._fill + taken]
            staged[:] = view[:taken]
            self._sha.update(staged)
            self._fill += taken
            view = view[taken:]
            if self._fill == STAGING_BYTES:
                self._write_staging(memoryview(self._staging))
                self._fill = 0

    def finish(self) -> str:
        """Write the unaligned tail through the page cache, make the file durable, and return the blob's name."""
        try:
            self._leave_direct_mode()
            self._write_staging(memoryview(self._staging)[: self._fill])
            os.fsync(self.fd)
            return self._sha.hexdigest()
        finally:
            self.abort()

    def abort(self) -> None:
        os.close(self.fd)
        return_staging(self._staging)

    def _write_staging(self, view: memoryview) -> None:
        while view:
            try:
                written = os.pwrite(self.fd, view, self._written)
            except OSError as error:
                if not self._direct or error.errno != errno.EINVAL:
                    raise
                self._leave_direct_mode()  # the filesystem refuses direct I/O: go on through the page cache
                continue
            view = view[written:]
            self._written += written

    def _leave_direct_mode(self) -> None:
        if self._direct:
            set_direct(self.fd, False)
            self._direct = False


class _ListedFile:
    """Append-only writer of a new digest-listed blob (see :mod:`flowkit.datastore.verify`) through the page cache.

    A large append is cut into frames, which several threads write straight from the artifact's memory, each hashing
    a frame right after writing it, while the kernel's copy has left it in the CPU's cache: hashing, the longest part
    of storing a large artifact, then runs on every CPU and costs a quarter less than a pass over memory. The blob
    stays in the page cache, where the next step's task reads it without waiting for the disk, and its writeback is
    started as it is written, so the final fsync waits for little.
    """

    def __init__(self, path: Path) -> None:
        from flowkit.datastore.verify import FrameDigests

        self.fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, BLOB_FILE_MODE)
        self._frames = FrameDigests()
        self._size = 0
        self._writeback_from = 0  # writeback was started for the bytes before this offset

    def append(self, view: memoryview) -> None:
        frame_bytes = self._frames.frame_bytes
        if len(view) >= PARALLEL_MIN_BYTES:
            aligning = -self._size % frame_bytes
            self._write_in_order(view[:aligning])
            view = view[aligning:]
            whole = len(view) - len(view) % frame_bytes
            self._write_frames(view[:whole], frame_bytes)
            view = view[whole:]
        self._write_in_order(view)

    def finish(self) -> str:
        """Write the digest list behind the stream, make the file durable, and return the blob's name."""
        from flowkit.datastore.verify import digest_list_name

        try:
            digest_list = self._frames.digest_list(self._size)
            pwrite_all(self.fd, memoryview(digest_list), self._size)
            os.fsync(self.fd)
            return digest_list_name(digest_list)
        finally:
            self.abort()

    def abort(self) -> None:
        os.close(self.fd)

    def _write_in_order(self, view: memoryview) -> None:
        if not view:
            return
        pwrite_all(self.fd, view, self._size)
        self._frames.update(self._size, view)
        self._size += len(view)
        if self._size - self._writeback_from >= STAGING_BYTES:
            self._start_pending_writeback()

    def _start_pending_writeback(self) -> None:
        if self._size > self._writeback_from:
            start_writeback(self.fd, self._writeback_from, self._size - self._writeback_from)
            self._writeback_from = self._size

    def _write_frames(self, view: memoryview, frame_bytes: int) -> None:
        """Write ``view`` (whole frames) at the end of the file, frames dealt round-robin to one thread per CPU: the
        page cache takes the writes without waiting for the disk, so more threads only add switching (measured)."""
        self._start_pending_writeback()
        count = len(view) // frame_bytes
        workers = max(1, min(io_workers(), count))
        base = self._size

        def write_frames(worker: int) -> None:
            for index in range(worker, count, workers):
                offset = base + index * frame_bytes
                frame = view[index * frame_bytes : (index + 1) * frame_bytes]
                pwrite_all(self.fd, frame, offset)
                self._frames.add_frame(offset, frame)
                start_writeback(self.fd, offset, frame_bytes)

        run_parallel([partial(write_frames, worker) for worker in range(workers)])
        self._size += len(view)
        self._writeback_from = self._size


class BlobSink:
    """The file object ``pickle.dump`` writes to: decides on compression, hashes and stores what the blob will hold.

    ``open_temp`` is called only when the stored bytes outgrow ``IN_MEMORY_BYTES``; otherwise :meth:`close` hands the
    small blob back so the caller can skip writing one that already exists. ``name`` is the blob's name (set by
    :meth:`close`, see :mod:`flowkit.datastore.verify`), ``size`` the length of the pickle stream (the artifact's
    size).
    """

    def __init__(self, open_temp: Callable[[], Path]) -> None:
        self._open_temp = open_temp
        self.name = ""
        self.size = 0
        self.stored_size = 0
        self.compressed: bool | None = None  # undecided until the sample is full
        self._sample = bytearray()
        self._frame = bytearray()  # uncompressed bytes of the frame being filled
        self._frame_sizes: list[tuple[int, int]] = []
        self._compressors: list[Any] = []  # one per thread: a zstd context is not thread-safe
        self._memory = bytearray()  # the stored bytes, while they fit in memory
        self._file: _DirectFile | _ListedFile | None = None
        self.temp_path: Path | None = None

    def write(self, data: Any) -> int:
        import pickle

        view = data.raw() if isinstance(data, pickle.PickleBuffer) else memoryview(data).cast("B")
        written = len(view)
        self.size += written
        if written >= PARALLEL_MIN_BYTES:
            advise_huge_pages(view)
        if self.compressed is None:
            taken = COMPRESSION_SAMPLE_BYTES - len(self._sample)
            self._sample += view[:taken]
            if len(self._sample) < COMPRESSION_SAMPLE_BYTES:
                return written
            self._decide()
            view = view[taken:]
        self._accept(view)
        return written

    def close(self) -> bytes | None:
        """Flush everything: the blob's bytes if they never left memory, else None (the temp file is then durable)."""
        if self.compressed is None:
            self._decide()
        if self.compressed:
            if self._frame:
                self._compress([memoryview(self._frame)])
                self._frame = bytearray()
            self._store(memoryview(seek_table(self._frame_sizes)))
        if self._file is None:
            import hashlib

            self.name = hashlib.sha256(self._memory).hexdigest()
            return bytes(self._memory)
        file, self._file = self._file, None
        self.name = file.finish()
        return None

    def abort(self) -> None:
        """Drop a half-written blob (the pickler failed): close and remove the temporary file."""
        if self._file is not None:
            self._file.abort()
            self._file = None
        if self.temp_path is not None:
            self.temp_path.unlink(missing_ok=True)

    def _decide(self) -> None:
        """Compress only if zstd is installed and wanted, the sample is big enough, and it shrinks enough."""
        sample, self._sample = self._sample, bytearray()
        zstd = compressor_module()
        self.compressed = False
        if zstd is not None and len(sample) >= COMPRESSION_MIN_BYTES:
            trial = self._compressor(0).compress(sample)
            self.compressed = len(trial) <= COMPRESSION_MAX_RATIO * len(sample)
        self._accept(memoryview(sample))

    def _accept(self, view: memoryview) -> None:
        """Take the next part of the pickle stream: store it raw, or cut it into frames and compress them."""
        if not self.compressed:
            self._store(view)
            return
        if self._frame:
            taken = FRAME_BYTES - len(self._frame)
            self._frame += view[:taken]
            view = view[taken:]
            if len(self._frame) < FRAME_BYTES:
                return
            self._compress([memoryview(self._frame)])
            self._frame = bytearray()
        whole = len(view) - len(view) % FRAME_BYTES
        self._compress([view[start : start + FRAME_BYTES] for start in range(0, whole, FRAME_BYTES)])
        self._frame += view[whole:]

    def _compressor(self, index: int) -> Any:
        while len(self._compressors) <= index:
            self._compressors.append(zstd_module().ZstdCompressor(level=COMPRESSION_LEVEL, write_checksum=False))
        return self._compressors[index]

    def _compress(self, pieces: list[memoryview]) -> None:
        """Compress each piece into its own frame, a batch of pieces at a time in parallel, and store the frames.

        A batch holds ``FRAMES_PER_WORKER`` pieces per thread: enough that starting threads costs little against the
        work, few enough that the compressed frames waiting to be stored stay a bounded amount of memory.
        """
        workers = io_workers() if sum(len(piece) for piece in pieces) >= PARALLEL_MIN_BYTES else 1
        batch_size = workers * FRAMES_PER_WORKER
        for batch_start in range(0, len(pieces), batch_size):
            batch = pieces[batch_start : batch_start + batch_size]
            for piece, frame in zip(batch, self._compress_batch(batch, workers), strict=True):
                self._frame_sizes.append((len(frame), len(piece)))
                self._store(memoryview(frame))

    def _compress_batch(self, batch: list[memoryview], workers: int) -> list[bytes]:
        """One frame per piece; each of up to ``workers`` threads compresses a contiguous run of pieces."""
        frames = [b""] * len(batch)

        def compress(slot: int, low: int, high: int) -> None:
            compressor = self._compressor(slot)
            for position in range(low, high):
                piece = batch[position]
                frames[position] = zero_frame(len(piece)) if is_zero(piece) else compressor.compress(piece)

        groups = split_evenly(len(batch), workers, align=1)
        self._compressor(len(groups) - 1)  # create the contexts before the threads use them
        run_parallel([partial(compress, slot, low, high) for slot, (low, high) in enumerate(groups)])
        return frames

    def _store(self, view: memoryview) -> None:
        """Append to the blob: in memory while it is small (hashed by :meth:`close`), else to the temporary file,
        which hashes what it writes."""
        self.stored_size += len(view)
        if self._file is None:
            if self.stored_size <= IN_MEMORY_BYTES:
                self._memory += view
                return
            self.temp_path = self._open_temp()
            self._file = _DirectFile(self.temp_path) if self.compressed else _ListedFile(self.temp_path)
            self._file.append(memoryview(self._memory))
            self._memory = bytearray()
        self._file.append(view)


def dump_artifact(value: Any, sink: BlobSink) -> None:
    """Pickle ``value`` into ``sink`` (cloudpickle, so lambdas and classes defined in ``__main__`` survive)."""
    import cloudpickle

    cloudpickle.dump(value, sink, protocol=PICKLE_PROTOCOL)
