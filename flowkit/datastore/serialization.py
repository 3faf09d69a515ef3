"""The blob format: how an artifact is pickled into a file and read back, with as few passes over its bytes as possible.

A blob holds the artifact's pickle (cloudpickle, protocol 5) either as is, or, when a sample of its head says it
pays, as a sequence of independent zstd frames followed by a seek table in the zstd *seekable format* (a skippable
frame listing each frame's compressed and decompressed size; plain ``zstd -d`` still decompresses the file). Pods
write plain pickles only (`write_uncompressed_blobs`): every CPython reads them, and the pod path imports no compiled
package.

The blob's name is the sha256 of the file's bytes, so ``sha256sum`` of any blob equals its name, and the hash costs
a pass over the *stored* bytes only: a highly compressible artifact is hashed after compression. Equal artifacts
still share one blob, because the pickle, the compression decision (made on the stream's first
``COMPRESSION_SAMPLE_BYTES``) and each frame's compression are deterministic.

Writing: the pickler hands each large buffer (``bytes``, ``bytearray``, the protocol-5 ``PickleBuffer`` of a numpy
array) to :meth:`BlobSink.write` as it is, without copying it into its own stream. The sink hashes such a buffer on
the calling thread while a helper thread stages it into an aligned buffer and writes it with ``O_DIRECT``: on virtual
machines, filling the page cache with a large blob costs several times more than the disk write, and the hash is then
the only pass left on the critical path. Compressible streams are cut into frames compressed by parallel threads; a
frame that is all zeros is recognised by a ``memcmp`` and given the one frame zeros compress into, computed once.

Reading: ``pickle.load`` asks for each large payload through one ``readinto`` of its final buffer. That buffer is
filled by several threads at once, each reading (through its own aligned ``O_DIRECT`` window) or decompressing whole
frames straight into its part: filling a freshly allocated buffer is dominated by the kernel mapping its pages in,
which parallelizes, and one thread's disk read overlaps another's copy. A frame of zeros is not written at all where
the buffer already reads as zeros (a fresh allocation does, before any of its memory is backed). Large buffers on
either side are advised to use huge pages first (:mod:`flowkit.datastore.pages`). Helper threads are always joined
before a call returns: no thread outlives a call (task processes are forked).

Every read is verified: the stored bytes are hashed as the reader passes over them and compared with the blob's name
at the end, so a byte the storage changed after the write (a flipped bit, a truncated or overwritten file) is a
:class:`CorruptBlobError` naming the blob, never a wrong value. A raw blob's bytes are the pickle stream itself, so
they are hashed where they land, each large read's pieces in file order while later pieces are still being read; a
compressed blob's file (at most half the artifact's size) is hashed by a helper thread while its frames are
decompressed. When the unpickler fails on a blob, its hash decides whether the blob is corrupt or the pickle cannot be
loaded here (a missing module), so a damaged compressed frame is reported as damage, not as a zstd error.
"""

from __future__ import annotations

import bisect
import errno
import fcntl
import functools
import mmap
import os
import struct
import threading
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from functools import partial
from pathlib import Path
from typing import Any

from flowkit.datastore.atomic import BLOB_FILE_MODE
from flowkit.datastore.pages import advise_huge_pages
from flowkit.errors import DataStoreError

PICKLE_PROTOCOL = 5
STAGING_BYTES = 8 << 20
"""Blobs up to this size are assembled in memory and hashed before any file exists (an existing blob costs no I/O);
larger ones are streamed to a temporary file."""
FRAME_BYTES = 4 << 20
"""Uncompressed size of one zstd frame: the unit that is compressed or decompressed by one thread."""
FRAMES_PER_WORKER = 8
"""How many frames each thread compresses per batch (see :meth:`BlobSink._compress`)."""
PARALLEL_MIN_BYTES = 16 << 20
"""Below this, one thread does the work: starting helpers costs more than they save."""
READ_AHEAD_BYTES = 256 << 10
"""Smaller reads are served from a read-ahead buffer (the pickler's opcodes and 64 KiB frames)."""
COMPRESSION_SAMPLE_BYTES = 1 << 20
"""How much of the stream is test-compressed before deciding whether the rest is compressed."""
COMPRESSION_MIN_BYTES = 64 << 10
"""Below this size, compression cannot save enough to matter."""
COMPRESSION_MAX_RATIO = 0.5
"""Compress only when the sample shrinks to at most this fraction: decompression must beat reading the bytes."""
COMPRESSION_LEVEL = 1
ZERO_CHECK_BYTES = 256 << 10
"""Unit of the comparisons that find all-zero frames (see :func:`_is_zero`)."""
ZERO_FRAME_MIN_RATIO = 1000
"""A frame is compared with the zero frame of its size only if it is at least this many times smaller than its content
(zeros compress some 25,000 times in frames of ``FRAME_BYTES``)."""
ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"
SKIPPABLE_MAGIC = 0x184D2A5E
"""A zstd skippable frame: decoders ignore its content. The seek table lives in one."""
SEEKABLE_MAGIC = 0x8F92EAB1
_SEEK_ENTRY = struct.Struct("<II")  # compressed size, decompressed size of one frame
_SEEK_FOOTER = struct.Struct("<IBI")  # number of frames, descriptor (no checksums), seekable magic
_SKIPPABLE_HEADER = struct.Struct("<II")  # magic, content size


_compression_enabled = True


def write_uncompressed_blobs() -> None:
    """From now on this process stores every blob as a plain pickle, which any CPython reads.

    A pod calls this: zstd is not part of the standard library, so a blob it compressed could be unreadable to the
    next pod's image or to a laptop without ``zstandard``, and importing it would make the pod path depend on a
    compiled package. The laptop keeps compressing (where ``zstandard`` is installed), for its disk and throughput.
    """
    global _compression_enabled
    _compression_enabled = False


def zstd_module() -> Any:
    """The zstandard module, or None: without it blobs are stored uncompressed (always readable)."""
    try:
        import zstandard
    except ImportError:
        return None
    return zstandard


def compressor_module() -> Any:
    """The zstandard module if this process compresses the blobs it writes, else None (see
    `write_uncompressed_blobs`)."""
    return zstd_module() if _compression_enabled else None


def io_workers() -> int:
    """How many threads split one large read, write or (de)compression: the CPUs this process may run on, up to 4."""
    try:
        available = len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        available = os.cpu_count() or 1
    return max(1, min(4, available))


def run_parallel(tasks: Sequence[Callable[[], None]]) -> None:
    """Run ``tasks``, all but the first in helper threads, and wait for every one; re-raise the first failure.

    The work is I/O or zstd, which release the GIL, so the threads really run at once.
    """
    errors: list[BaseException] = []

    def guarded(task: Callable[[], None]) -> None:
        try:
            task()
        except BaseException as error:  # re-raised in the calling thread below
            errors.append(error)

    helpers = [threading.Thread(target=guarded, args=(task,)) for task in tasks[1:]]
    for helper in helpers:
        helper.start()
    try:
        if tasks:
            guarded(tasks[0])
    finally:
        for helper in helpers:
            helper.join()
    if errors:
        raise errors[0]


def split_evenly(total: int, parts: int, align: int = 4096) -> list[tuple[int, int]]:
    """``parts`` contiguous (start, end) ranges covering ``[0, total)``, boundaries aligned to ``align``."""
    per_part = -(-total // parts)
    step = max(align, -(-per_part // align) * align)
    return [(start, min(start + step, total)) for start in range(0, total, step)]


def _write_all(fd: int, view: memoryview) -> None:
    while view:
        view = view[os.write(fd, view) :]


# -- direct I/O ------------------------------------------------------------------------------------------------------


_staging_pool: list[mmap.mmap] = []
"""Page-aligned buffers reused by writers and readers of this process, so their pages are faulted in once."""


def borrow_staging() -> mmap.mmap:
    """A page-aligned ``STAGING_BYTES`` buffer for ``O_DIRECT`` transfers.

    Private, not shared, mapping: task processes are forked from a parent that may have pooled buffers, and each
    child must get its own copy rather than scribble over its siblings' staged bytes.
    """
    if _staging_pool:
        return _staging_pool.pop()
    return mmap.mmap(-1, STAGING_BYTES, flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS)


def return_staging(buffer: mmap.mmap) -> None:
    _staging_pool.append(buffer)


def _set_direct(fd: int, enabled: bool) -> None:
    flags = fcntl.fcntl(fd, fcntl.F_GETFL)
    fcntl.fcntl(fd, fcntl.F_SETFL, flags | os.O_DIRECT if enabled else flags & ~os.O_DIRECT)


# -- writing ---------------------------------------------------------------------------------------------------------


class _DirectFile:
    """Append-only writer of a new file: whole staging buffers go out with ``O_DIRECT``, the tail through the cache.

    On virtual machines, filling the page cache with a large blob costs several times more than writing it to the
    disk directly. A filesystem that refuses direct I/O gets plain writes.
    """

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
        self._staging = borrow_staging()
        self._fill = 0

    def append(self, view: memoryview) -> None:
        while view:
            taken = min(len(view), STAGING_BYTES - self._fill)
            self._staging[self._fill : self._fill + taken] = view[:taken]
            self._fill += taken
            view = view[taken:]
            if self._fill == STAGING_BYTES:
                self._write_staging()
                self._fill = 0

    def finish(self) -> None:
        """Write the unaligned tail through the page cache, then make the file durable."""
        try:
            self._leave_direct_mode()
            _write_all(self.fd, memoryview(self._staging)[: self._fill])
            os.fsync(self.fd)
        finally:
            self.abort()

    def abort(self) -> None:
        os.close(self.fd)
        return_staging(self._staging)

    def _write_staging(self) -> None:
        view = memoryview(self._staging)
        while view:
            try:
                written = os.write(self.fd, view)
            except OSError as error:
                if not self._direct or error.errno != errno.EINVAL:
                    raise
                self._leave_direct_mode()  # the filesystem refuses direct I/O: go on through the page cache
                continue
            view = view[written:]

    def _leave_direct_mode(self) -> None:
        if self._direct:
            _set_direct(self.fd, False)
            self._direct = False


class BlobSink:
    """The file object ``pickle.dump`` writes to: decides on compression, hashes and stores what the blob will hold.

    ``open_temp`` is called only when the stored bytes outgrow ``STAGING_BYTES``; otherwise :meth:`close` hands the
    small blob back so the caller can skip writing one that already exists. ``sha`` is the hash of the stored bytes
    (the blob's name), ``size`` the length of the pickle stream (the artifact's size).
    """

    def __init__(self, open_temp: Callable[[], Path]) -> None:
        # pickle and hashlib are imported where an artifact is stored or loaded: a task that does neither before
        # its step's first line (a start step without parameters) starts without them.
        import hashlib

        self._open_temp = open_temp
        self.sha = hashlib.sha256()
        self.size = 0
        self.stored_size = 0
        self.compressed: bool | None = None  # undecided until the sample is full
        self._sample = bytearray()
        self._frame = bytearray()  # uncompressed bytes of the frame being filled
        self._frame_sizes: list[tuple[int, int]] = []
        self._compressors: list[Any] = []  # one per thread: a zstd context is not thread-safe
        self._memory = bytearray()  # the stored bytes, while they fit in memory
        self._file: _DirectFile | None = None
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
            self._store(memoryview(self._seek_table()))
        if self._file is None:
            return bytes(self._memory)
        file, self._file = self._file, None
        file.finish()
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
                frames[position] = _zero_frame(len(piece)) if _is_zero(piece) else compressor.compress(piece)

        groups = split_evenly(len(batch), workers, align=1)
        self._compressor(len(groups) - 1)  # create the contexts before the threads use them
        run_parallel([partial(compress, slot, low, high) for slot, (low, high) in enumerate(groups)])
        return frames

    def _seek_table(self) -> bytes:
        entries = b"".join(_SEEK_ENTRY.pack(*sizes) for sizes in self._frame_sizes)
        footer = _SEEK_FOOTER.pack(len(self._frame_sizes), 0, SEEKABLE_MAGIC)
        return _SKIPPABLE_HEADER.pack(SKIPPABLE_MAGIC, len(entries) + len(footer)) + entries + footer

    def _store(self, view: memoryview) -> None:
        """Append to the blob: in memory while it is small, else to the temporary file.

        A large view is hashed on this thread while a helper copies it to the file: both release the GIL.
        """
        self.stored_size += len(view)
        if self._file is None:
            if self.stored_size <= STAGING_BYTES:
                self.sha.update(view)
                self._memory += view
                return
            self.temp_path = self._open_temp()
            self._file = _DirectFile(self.temp_path)
            self._file.append(memoryview(self._memory))
            self._memory = bytearray()
        if len(view) < PARALLEL_MIN_BYTES:
            self.sha.update(view)
            self._file.append(view)
            return
        file = self._file
        run_parallel([lambda: self.sha.update(view), lambda: file.append(view)])


def dump_artifact(value: Any, sink: BlobSink) -> None:
    """Pickle ``value`` into ``sink`` (cloudpickle, so lambdas and classes defined in ``__main__`` survive)."""
    import cloudpickle

    cloudpickle.dump(value, sink, protocol=PICKLE_PROTOCOL)


# -- reading ---------------------------------------------------------------------------------------------------------


class CorruptBlobError(DataStoreError):
    """A blob's bytes no longer hash to its name: the storage changed them after they were written."""

    def __init__(self, path: Path, actual_sha256: str) -> None:
        self.path = path
        self.actual_sha256 = actual_sha256
        super().__init__(f"blob {path} is corrupt: its bytes hash to {actual_sha256}, not to its name")


def load_blob(path: Path, sha256: str) -> Any:
    """Unpickle a stored blob, whichever form it was stored in (raw or framed zstd), after checking that its bytes
    hash to ``sha256`` (see the module's docstring)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        digest = _Digest(fd, os.fstat(fd).st_size)
        try:
            value = _unpickle(fd, path, digest)
        except Exception:
            if digest.finish() != sha256:
                raise CorruptBlobError(path, digest.finish()) from None
            raise
        if digest.finish() != sha256:
            raise CorruptBlobError(path, digest.finish())
        return value
    finally:
        os.close(fd)


def _unpickle(fd: int, path: Path, digest: _Digest) -> Any:
    import pickle

    size = digest.size
    if os.pread(fd, len(ZSTD_MAGIC), 0) != ZSTD_MAGIC:
        return pickle.load(_RawStream(fd, size, path, digest))
    if zstd_module() is None:
        raise DataStoreError(f"blob {path} is compressed with zstd, a codec this Python lacks: install 'zstandard'")
    digest.hash_in_background()
    frames = _read_seek_table(fd, size)
    if frames is None:
        raise DataStoreError(f"blob {path} is zstd without a seek table, a form flowkit never writes")
    return pickle.load(_FramedStream(fd, frames, path))


class _Digest:
    """The sha256 of a blob's stored bytes, fed in file order by the reader, or by a helper thread of its own."""

    def __init__(self, fd: int, size: int) -> None:
        import hashlib

        self.size = size
        self._fd = fd
        self._sha = hashlib.sha256()
        self._hashed = 0
        self._helper: threading.Thread | None = None
        self._result: str | None = None

    def update(self, start: int, view: memoryview) -> None:
        """Hash the file's bytes ``[start, start + len(view))``; only the next bytes in file order are taken, so
        bytes read twice (a read-ahead the unpickler did not use) are hashed once."""
        if start <= self._hashed < start + len(view):
            self._sha.update(view[self._hashed - start :])
            self._hashed = start + len(view)

    def hash_in_background(self) -> None:
        """Hash the whole file on a helper thread while the caller reads it its own way (compressed frames)."""
        self._helper = threading.Thread(target=self._hash_rest)
        self._helper.start()

    def finish(self) -> str:
        """The file's sha256, reading whatever the reader did not pass over (trailing bytes, or after a failure)."""
        if self._result is None:
            if self._helper is not None:
                self._helper.join()
            self._hash_rest()
            self._result = self._sha.hexdigest()
        return self._result

    def _hash_rest(self) -> None:
        if self._hashed < self.size and hasattr(os, "O_DIRECT"):
            _set_direct(self._fd, False)  # a raw reader may have left the file in direct mode, which pread refuses
        while self._hashed < self.size:
            chunk = os.pread(self._fd, min(STAGING_BYTES, self.size - self._hashed), self._hashed)
            if not chunk:
                break  # the file shrank under us: the digest then cannot match
            self._sha.update(chunk)
            self._hashed += len(chunk)


def _read_seek_table(fd: int, size: int) -> list[tuple[int, int]] | None:
    """The (compressed, decompressed) size of each frame, or None if the file ends in no consistent seek table."""
    if size < _SKIPPABLE_HEADER.size + _SEEK_FOOTER.size:
        return None
    count, descriptor, magic = _SEEK_FOOTER.unpack(os.pread(fd, _SEEK_FOOTER.size, size - _SEEK_FOOTER.size))
    table_size = _SKIPPABLE_HEADER.size + count * _SEEK_ENTRY.size + _SEEK_FOOTER.size
    if magic != SEEKABLE_MAGIC or descriptor != 0 or table_size > size:
        return None
    table = os.pread(fd, table_size, size - table_size)
    skippable, content_size = _SKIPPABLE_HEADER.unpack_from(table)
    frames = [
        _SEEK_ENTRY.unpack_from(table, _SKIPPABLE_HEADER.size + index * _SEEK_ENTRY.size) for index in range(count)
    ]
    consistent = skippable == SKIPPABLE_MAGIC and content_size == table_size - _SKIPPABLE_HEADER.size
    if not consistent or sum(compressed for compressed, _ in frames) + table_size != size:
        return None
    return frames


class _Stream(ABC):
    """A read-only file object over ``size`` bytes for ``pickle.load``: small reads come from a read-ahead buffer,
    large ``readinto`` calls go straight into the caller's buffer through :meth:`_fill`."""

    def __init__(self, size: int, path: Path) -> None:
        self.name = str(path)
        self._size = size
        self._position = 0
        self._ahead = b""
        self._ahead_start = 0

    @abstractmethod
    def _fill(self, start: int, target: memoryview) -> None:
        """Copy the stream's bytes ``[start, start + len(target))`` into ``target``."""

    def readinto(self, buffer: Any) -> int:
        target = memoryview(buffer).cast("B")
        wanted = min(len(target), self._size - self._position)
        done = 0
        offset = self._position - self._ahead_start
        if 0 <= offset < len(self._ahead):
            done = min(wanted, len(self._ahead) - offset)
            target[:done] = self._ahead[offset : offset + done]
        start = self._position + done
        if wanted - done >= READ_AHEAD_BYTES:
            self._fill(start, target[done:wanted])
        elif wanted > done:
            ahead = bytearray(min(READ_AHEAD_BYTES, self._size - start))
            self._fill(start, memoryview(ahead))
            self._ahead, self._ahead_start = bytes(ahead), start
            target[done:wanted] = self._ahead[: wanted - done]
        self._position += wanted
        return wanted

    def read(self, size: int = -1) -> bytes:
        remaining = self._size - self._position
        wanted = remaining if size < 0 else min(size, remaining)
        offset = self._position - self._ahead_start
        if offset >= 0 and offset + wanted <= len(self._ahead):  # the common case: one copy, out of the read-ahead
            self._position += wanted
            return self._ahead[offset : offset + wanted]
        data = bytearray(wanted)
        self.readinto(data)
        return bytes(data)

    def readline(self) -> bytes:
        line = bytearray()
        while not line.endswith(b"\n") and self._position < self._size:
            line += self.read(1)
        return bytes(line)


class _RawStream(_Stream):
    """The file itself. A large blob is read with ``O_DIRECT`` (see :class:`_DirectFile`) through aligned windows;
    a large read is split into contiguous parts, each read and copied by its own thread, so one thread's disk read
    overlaps another's copy."""

    def __init__(self, fd: int, size: int, path: Path, digest: _Digest) -> None:
        super().__init__(size, path)
        self._fd = fd
        self._digest = digest
        self._direct = False
        if size > STAGING_BYTES and hasattr(os, "O_DIRECT"):
            try:  # small blobs stay in the page cache for the next reader
                _set_direct(fd, True)
                self._direct = True
            except OSError:
                pass

    def _fill(self, start: int, target: memoryview) -> None:
        if len(target) < PARALLEL_MIN_BYTES:
            self._read_part(start, target)
            self._digest.update(start, target)
            return
        advise_huge_pages(target)  # the unpickler's fresh buffer: fewer page faults leave CPU time for the hash
        # Pieces of one staging buffer each, dealt round-robin to the reading threads so that they complete roughly
        # in file order, while this thread hashes each piece as soon as it and those before it have landed.
        pieces = split_evenly(len(target), -(-len(target) // STAGING_BYTES))
        landed = [threading.Event() for _ in pieces]
        workers = io_workers()

        def read(worker: int) -> None:
            mine = range(worker, len(pieces), workers)
            try:
                for index in mine:
                    low, high = pieces[index]
                    self._read_part(start + low, target[low:high])
                    landed[index].set()
            finally:  # a failed read must not leave the hashing thread waiting; the failure is re-raised
                for index in mine:
                    landed[index].set()

        def hash_in_order() -> None:
            for (low, high), event in zip(pieces, landed, strict=True):
                event.wait()
                self._digest.update(start + low, target[low:high])

        run_parallel([hash_in_order, *(partial(read, worker) for worker in range(workers))])

    def _read_part(self, offset: int, target: memoryview) -> None:
        window = borrow_staging()
        try:
            while target:
                aligned = offset & ~(mmap.PAGESIZE - 1)
                wanted = min(STAGING_BYTES, offset + len(target) - aligned)
                count = self._pread(memoryview(window)[: -(-wanted // mmap.PAGESIZE) * mmap.PAGESIZE], aligned)
                taken = min(len(target), aligned + count - offset)
                if taken <= 0:
                    raise DataStoreError(f"blob {self.name} ends before its pickle does (truncated?)")
                target[:taken] = window[offset - aligned : offset - aligned + taken]
                target, offset = target[taken:], offset + taken
        finally:
            return_staging(window)

    def _pread(self, window: memoryview, offset: int) -> int:
        try:
            return os.preadv(self._fd, [window], offset)
        except OSError as error:
            if not self._direct or error.errno != errno.EINVAL:
                raise
            _set_direct(self._fd, False)  # the filesystem refuses direct I/O
            self._direct = False
            return os.preadv(self._fd, [window], offset)


class _FramedStream(_Stream):
    """The decompressed content of independent zstd frames; frames wholly inside a read are decompressed in
    parallel straight into the caller's buffer, the others through a one-frame cache."""

    def __init__(self, fd: int, frames: list[tuple[int, int]], path: Path) -> None:
        self._fd = fd
        self._frames: list[tuple[int, int, int, int]] = []  # file offset, compressed size, stream offset, size
        file_offset = stream_offset = 0
        for compressed, decompressed in frames:
            self._frames.append((file_offset, compressed, stream_offset, decompressed))
            file_offset += compressed
            stream_offset += decompressed
        super().__init__(stream_offset, path)
        self._starts = [frame[2] for frame in self._frames]
        self._cached_index = -1
        self._cached = bytearray()
        self._decompressors: list[Any] = []

    def _fill(self, start: int, target: memoryview) -> None:
        end = start + len(target)
        whole: list[tuple[int, memoryview]] = []
        index = bisect.bisect_right(self._starts, start) - 1
        while index < len(self._frames) and self._frames[index][2] < end:
            _, _, frame_start, frame_size = self._frames[index]
            low, high = max(start, frame_start), min(end, frame_start + frame_size)
            part = target[low - start : high - start]
            if (low, high) == (frame_start, frame_start + frame_size):
                whole.append((index, part))
            else:
                part[:] = self._frame_bytes(index)[low - frame_start : high - frame_start]
            index += 1
        if not whole:
            return
        if len(target) >= PARALLEL_MIN_BYTES and any(self._zeros(index) for index, _ in whole):
            # A frame of zeros is not written where the target already reads as zeros, as the unpickler's freshly
            # allocated buffer does without being backed by memory: that saves faulting its pages in (the bulk of
            # reading such an artifact on a virtual machine) and the memory they would take. Huge pages make those
            # reads map the kernel's huge zero page, rather than fault once per 4 KiB.
            advise_huge_pages(target)
        workers = io_workers() if len(whole) > 1 and len(target) >= PARALLEL_MIN_BYTES else 1
        groups = split_evenly(len(whole), workers, align=1)
        self._decompressor(len(groups) - 1)  # create the contexts before the threads use them
        run_parallel([partial(self._decompress_into, slot, whole[low:high]) for slot, (low, high) in enumerate(groups)])

    def _zeros(self, index: int) -> bool:
        """Whether a frame may be the one all-zero content compresses into (its bytes are compared later)."""
        _, compressed, _, size = self._frames[index]
        return _may_be_zero_frame(compressed, size)

    def _decompressor(self, slot: int) -> Any:
        while len(self._decompressors) <= slot:
            self._decompressors.append(zstd_module().ZstdDecompressor())
        return self._decompressors[slot]

    def _compressed(self, index: int) -> bytes:
        file_offset, compressed, _, _ = self._frames[index]
        data = os.pread(self._fd, compressed, file_offset)
        if len(data) != compressed:
            raise DataStoreError(f"blob {self.name} is shorter than its seek table says (truncated?)")
        return data

    def _decompress_into(self, slot: int, frames: list[tuple[int, memoryview]]) -> None:
        decompressor = self._decompressor(slot)
        for index, part in frames:
            compressed = self._compressed(index)
            if (
                _may_be_zero_frame(len(compressed), len(part))
                and compressed == _zero_frame(len(part))
                and _is_zero(part)
            ):
                continue  # see _fill
            with decompressor.stream_reader(compressed) as reader:
                remaining = part
                while remaining and (count := reader.readinto(remaining)):
                    remaining = remaining[count:]
                if remaining or reader.read(1):
                    raise DataStoreError(f"blob {self.name}: frame {index} does not match its seek table")

    def _frame_bytes(self, index: int) -> bytearray:
        if index != self._cached_index:
            frame = bytearray(self._frames[index][3])
            self._decompress_into(0, [(index, memoryview(frame))])
            self._cached_index, self._cached = index, frame
        return self._cached


_ZEROS = bytearray(ZERO_CHECK_BYTES)
"""Compared against, never written: with a ``bytearray`` on the left, ``==`` is one ``memcmp`` with any buffer."""


def _is_zero(view: memoryview) -> bool:
    """Whether every byte of ``view`` is zero: a ``memcmp`` per chunk, stopping at the first chunk that differs."""
    chunk = len(_ZEROS)
    whole = len(view) - len(view) % chunk
    # _ZEROS on the left: a memoryview on the left compares item by item, some fifty times slower.
    if not all(_ZEROS == view[start : start + chunk] for start in range(0, whole, chunk)):  # noqa: SIM300
        return False
    return whole == len(view) or _ZEROS[: len(view) - whole] == view[whole:]


def _may_be_zero_frame(compressed_size: int, size: int) -> bool:
    """A cheap test before comparing bytes: zeros shrink thousands of times, which other data hardly ever does, and
    only then is the zero frame of that size computed."""
    return compressed_size * ZERO_FRAME_MIN_RATIO <= size and compressed_size == len(_zero_frame(size))


@functools.lru_cache(maxsize=64)
def _zero_frame(size: int) -> bytes:
    """The frame :class:`BlobSink` compresses ``size`` zero bytes into, compressed once per size and process.

    Comparing a piece with zeros costs a fraction of compressing it, and the result is byte for byte what compressing
    it would give (a one-shot ``compress`` of the same input with the same settings), so blob names do not change.
    """
    return zstd_module().ZstdCompressor(level=COMPRESSION_LEVEL, write_checksum=False).compress(bytes(size))
