"""Reading a blob (its format is in :mod:`flowkit.datastore.blob_format`) back into the artifact, verified against
the blob's name as it is read: `load_blob`.

``pickle.load`` asks for each large payload through one ``readinto`` of its final buffer. That buffer is filled by
several threads at once, each reading (from the page cache, or through its own aligned ``O_DIRECT`` window for a
large blob named by its whole file's hash) or decompressing whole frames straight into its part: filling a freshly
allocated buffer is dominated by the kernel mapping its pages in, which parallelizes, and one thread's read overlaps
another's copy and hash. A frame of zeros is not written at all where the buffer already reads as zeros (a fresh
allocation does, before any of its memory is backed). The buffers compressed blobs are decompressed into are advised
to use huge pages first (:mod:`flowkit.datastore.pages`), where the huge zero page spares reading or writing zeros.

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
import mmap
import os
import threading
from abc import ABC, abstractmethod
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

from flowkit.datastore.blob_format import (
    PARALLEL_MIN_BYTES,
    ZSTD_MAGIC,
    io_workers,
    is_zero,
    read_seek_table,
    run_parallel,
    split_evenly,
    zero_frame,
    zstd_module,
)
from flowkit.datastore.fileio import STAGING_BYTES, borrow_staging, preadv_all, return_staging, set_direct
from flowkit.datastore.pages import advise_huge_pages
from flowkit.errors import DataStoreError

if TYPE_CHECKING:
    from flowkit.datastore.verify import FileDigest, FrameCheck

# pickle, hashlib and the checks of flowkit.datastore.verify (which need hashlib) are imported where an artifact is
# loaded: a task that loads none before its step's first line (a start step without parameters, in a pod) starts
# without them.

READ_AHEAD_BYTES = 256 << 10
"""Smaller reads are served from a read-ahead buffer (the pickler's opcodes and 64 KiB frames)."""
ZERO_FRAME_MIN_RATIO = 1000
"""A frame is compared with the zero frame of its size only if it is at least this many times smaller than its content
(zeros compress some 25,000 times in frames of ``blob_format.FRAME_BYTES``)."""


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
    frames = read_seek_table(fd, digest.size)
    if frames is None:
        raise DataStoreError(f"blob {path} is zstd without a seek table, a form flowkit never writes")
    return pickle.load(_FramedStream(fd, frames, path))


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
            if _may_be_zero_frame(len(compressed), len(part)) and compressed == zero_frame(len(part)) and is_zero(part):
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


def _may_be_zero_frame(compressed_size: int, size: int) -> bool:
    """A cheap test before comparing bytes: zeros shrink thousands of times, which other data hardly ever does, and
    only then is the zero frame of that size computed."""
    return compressed_size * ZERO_FRAME_MIN_RATIO <= size and compressed_size == len(zero_frame(size))
