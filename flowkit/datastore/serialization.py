"""The blob format: how an artifact is pickled into a file and read back, with as few passes over its bytes as possible.

A blob holds the artifact's pickle (cloudpickle, protocol 5) either as is (followed, when it is too large to be
assembled in memory, by a digest list), or, when a sample of its head says it pays, as a sequence of independent zstd
frames followed by a seek table in the zstd *seekable format* (a skippable frame listing each frame's compressed and
decompressed size; plain ``zstd -d`` still decompresses the file). Pods write plain pickles only
(`write_uncompressed_blobs`): every CPython reads them, and the pod path imports no compiled package.

The blob's name is a sha256 of its stored bytes (:mod:`flowkit.datastore.verify`): of the whole file for small and
compressed blobs (``sha256sum`` prints it), of the digest list for large raw ones, so that their frames are hashed in
parallel. A highly compressible artifact is hashed after compression. Equal artifacts still share one blob, because
the pickle, the compression decision (made on the stream's first ``COMPRESSION_SAMPLE_BYTES``), each frame's
compression and the digest list's frames are deterministic.

Writing: the pickler hands each large buffer (``bytes``, ``bytearray``, the protocol-5 ``PickleBuffer`` of a numpy
array) to :meth:`BlobSink.write` as it is, without copying it into its own stream. A raw one is written in frames by
several threads straight from its memory into the page cache, each hashing a frame right after writing it, while it
is in the CPU's cache; the writeback to the disk starts as frames are written (:class:`_ListedFile`), and the next
step's task finds the blob in the page cache. Compressible streams are cut into frames compressed by parallel threads;
a frame that is all zeros is recognised by a ``memcmp`` and given the one frame zeros compress into, computed once.
Compressed blobs are staged into an aligned buffer, hashed there, and written with ``O_DIRECT``.

Reading: ``pickle.load`` asks for each large payload through one ``readinto`` of its final buffer. That buffer is
filled by several threads at once, each reading (from the page cache, or through its own aligned ``O_DIRECT``
window for a large blob named by its whole file's hash) or decompressing whole frames straight into its part: filling
a freshly allocated buffer is dominated by the kernel mapping its pages in, which parallelizes, and one thread's read
overlaps another's copy and hash. A frame of zeros is not written at all where the buffer already reads as zeros (a
fresh allocation does, before any of its memory is backed). The user's large buffers, and the buffers compressed
blobs are decompressed into, are advised to use huge pages first (:mod:`flowkit.datastore.pages`), where the huge
zero page spares reading or writing zeros. Helper threads are always joined before a call returns: no thread
outlives a call (task processes are forked).

Every read is verified against the name, so a byte the storage changed after the write (a flipped bit, a truncated or
overwritten file) is a :class:`~flowkit.datastore.verify.CorruptBlobError` naming the blob, never a wrong value. A
digest-listed blob's list is checked against the name first, then each frame where it lands, by the thread that read
it; a raw blob named by its whole file is hashed where its pieces land, in file order while later pieces are still
being read; a compressed blob's file (at most half the artifact's size) is hashed by a helper thread while its frames
are decompressed. When the unpickler fails on a blob, the check decides whether the blob is corrupt or the pickle
cannot be loaded here (a missing module), so a damaged compressed frame is reported as damage, not as a zstd error.
"""

from __future__ import annotations

import bisect
import errno
import functools
import mmap
import os
import struct
import threading
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

from flowkit.datastore.atomic import BLOB_FILE_MODE
from flowkit.datastore.fileio import (
    STAGING_BYTES,
    borrow_staging,
    preadv_all,
    pwrite_all,
    return_staging,
    set_direct,
    start_writeback,
)
from flowkit.datastore.pages import advise_huge_pages
from flowkit.errors import DataStoreError

if TYPE_CHECKING:
    from flowkit.datastore.verify import FileDigest, FrameCheck

# pickle, hashlib and the checks of flowkit.datastore.verify (which need hashlib) are imported where an artifact is
# stored or loaded: a task that does neither before its step's first line (a start step without parameters, in a pod)
# starts without them.

PICKLE_PROTOCOL = 5
IN_MEMORY_BYTES = STAGING_BYTES
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


# -- writing ---------------------------------------------------------------------------------------------------------


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
            self._store(memoryview(self._seek_table()))
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


# -- reading ---------------------------------------------------------------------------------------------------------


def load_blob(path: Path, name: str) -> Any:
    """Unpickle a stored blob, whichever form it was stored in (raw, raw with a digest list, or framed zstd), checking
    its bytes against ``name`` (see the module's docstring): :class:`CorruptBlobError` if they do not match."""
    import pickle

    from flowkit.datastore.verify import FileDigest, FrameCheck, read_digest_list

    fd = os.open(path, os.O_RDONLY)
    try:
        size = os.fstat(fd).st_size
        if os.pread(fd, len(ZSTD_MAGIC), 0) == ZSTD_MAGIC:
            digest = FileDigest(fd, size, path, name)  # compressed blobs have whole-file names
            return _checked(digest, lambda: _unpickle_compressed(fd, path, digest))
        digest_list = read_digest_list(fd, size, path, name)
        check = FileDigest(fd, size, path, name) if digest_list is None else FrameCheck(fd, path, digest_list)
        return _checked(check, lambda: pickle.load(_RawStream(fd, check, path)))
    finally:
        os.close(fd)


def _checked(check: FileDigest | FrameCheck, load: Callable[[], Any]) -> Any:
    """``load()``'s value once ``check`` has passed over every byte of the blob. When loading fails, damaged bytes
    are the cause if they are damaged; otherwise the blob cannot be loaded here (a module missing) and the error
    stands."""
    from flowkit.datastore.verify import CorruptBlobError

    try:
        value = load()
    except CorruptBlobError:
        raise
    except Exception:
        try:
            check.finish()
        except CorruptBlobError as corrupt:
            raise corrupt from None
        raise
    check.finish()
    return value


def _unpickle_compressed(fd: int, path: Path, digest: FileDigest) -> Any:
    import pickle

    if zstd_module() is None:
        raise DataStoreError(f"blob {path} is compressed with zstd, a codec this Python lacks: install 'zstandard'")
    digest.hash_in_background()
    frames = _read_seek_table(fd, digest.size)
    if frames is None:
        raise DataStoreError(f"blob {path} is zstd without a seek table, a form flowkit never writes")
    return pickle.load(_FramedStream(fd, frames, path))


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
    """The file's pickle stream. A large blob is read with ``O_DIRECT`` (see :mod:`flowkit.datastore.fileio`)
    through aligned windows; a large read is split into pieces read and copied by several threads, so one thread's
    disk read overlaps another's copy and hash.

    A digest-listed blob's frames are checked by the threads that read them, straight after the copy, while they are
    in the CPU's cache; a blob with a whole-file name is hashed by this thread in file order as the pieces land.

    The unpickler's fresh buffer is not advised to use huge pages: every byte of it is written, so there is no zero
    page to share, and on virtual machines that hand memory back to the host, a huge page often comes from memory the
    host must back again first. Filling 200 MiB took 0.2 to 0.25 s of CPU with 4 KiB pages, and either about that or
    0.7 s (three loads in eight) with huge pages.
    """

    def __init__(self, fd: int, check: FileDigest | FrameCheck, path: Path) -> None:
        from flowkit.datastore.verify import FrameCheck

        super().__init__(check.size, path)
        self._fd = fd
        self._check = check
        self._frames = check if isinstance(check, FrameCheck) else None
        self._direct = False
        if self._frames is None and self._size > STAGING_BYTES and hasattr(os, "O_DIRECT"):
            try:  # small blobs stay in the page cache for the next reader
                set_direct(fd, True)
                self._direct = True
            except OSError:
                pass

    def _fill(self, start: int, target: memoryview) -> None:
        if len(target) < PARALLEL_MIN_BYTES:
            self._read_part(start, target)
            self._check.update(start, target)
            return
        if self._frames is not None:
            self._fill_checking_frames(start, target, self._frames)
        else:
            self._fill_hashing_in_order(start, target, self._check)

    def _fill_checking_frames(self, start: int, target: memoryview, check: FrameCheck) -> None:
        """The frames wholly inside the read are dealt round-robin to the threads, each reading, copying and checking
        its frames; the partial frames at either end are checked in stream order."""
        frame_bytes = check.digest_list.frame_bytes
        end = start + len(target)
        first, last = -(-start // frame_bytes) * frame_bytes, end // frame_bytes * frame_bytes
        if last <= first:  # no whole frame inside
            first = last = end
        head, tail = target[: first - start], target[last - start :]
        self._read_part(start, head)
        check.update(start, head)
        count = (last - first) // frame_bytes
        workers = max(1, min(io_workers(), count))

        def read_frames(worker: int) -> None:
            for index in range(worker, count, workers):
                offset = first + index * frame_bytes
                frame = target[offset - start : offset - start + frame_bytes]
                self._read_part(offset, frame)
                check.check_frame(offset // frame_bytes, frame)

        run_parallel([partial(read_frames, worker) for worker in range(workers)])
        self._read_part(last, tail)
        check.update(last, tail)

    def _fill_hashing_in_order(self, start: int, target: memoryview, digest: FileDigest | FrameCheck) -> None:
        """Pieces of one staging buffer each, dealt round-robin to the reading threads so that they complete roughly
        in file order, while this thread hashes each piece as soon as it and those before it have landed."""
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
                digest.update(start + low, target[low:high])

        run_parallel([hash_in_order, *(partial(read, worker) for worker in range(workers))])

    def _read_part(self, offset: int, target: memoryview) -> None:
        if not self._direct:
            if preadv_all(self._fd, target, offset) < len(target):
                raise DataStoreError(f"blob {self.name} ends before its pickle does (truncated?)")
            return
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
            set_direct(self._fd, False)  # the filesystem refuses direct I/O
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
