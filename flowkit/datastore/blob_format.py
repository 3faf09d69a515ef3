"""The blob format's shared definitions: what a blob file holds, the constants that decide its bytes, the seek table
of zstd's seekable format (built and parsed here, so its layout has one home), and the thread helpers the writer and
the reader share.

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

Blobs are written by :mod:`flowkit.datastore.blob_writer` and read, verified against their names, by
:mod:`flowkit.datastore.blob_reader`. Both split the work on a large artifact over threads with `run_parallel`, which
joins its helper threads before it returns: no thread outlives a call (task processes are forked).
"""

from __future__ import annotations

import functools
import os
import struct
import threading
from collections.abc import Callable, Sequence
from typing import Any

from flowkit.datastore.fileio import STAGING_BYTES

PICKLE_PROTOCOL = 5
IN_MEMORY_BYTES = STAGING_BYTES
"""Blobs up to this size are assembled in memory and hashed before any file exists (an existing blob costs no I/O);
larger ones are streamed to a temporary file."""
FRAME_BYTES = 4 << 20
"""Uncompressed size of one zstd frame: the unit that is compressed or decompressed by one thread."""
PARALLEL_MIN_BYTES = 16 << 20
"""Below this, one thread does the work: starting helpers costs more than they save."""
COMPRESSION_SAMPLE_BYTES = 1 << 20
"""How much of the stream is test-compressed before deciding whether the rest is compressed."""
COMPRESSION_MIN_BYTES = 64 << 10
"""Below this size, compression cannot save enough to matter."""
COMPRESSION_MAX_RATIO = 0.5
"""Compress only when the sample shrinks to at most this fraction: decompression must beat reading the bytes."""
COMPRESSION_LEVEL = 1
ZERO_CHECK_BYTES = 256 << 10
"""Unit of the comparisons that find all-zero frames (see :func:`is_zero`)."""
ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"
SKIPPABLE_MAGIC = 0x184D2A5E
"""A zstd skippable frame: decoders ignore its content. The seek table lives in one."""
SEEKABLE_MAGIC = 0x8F92EAB1
_SEEK_ENTRY = struct.Struct("<II")  # compressed size, decompressed size of one frame
_SEEK_FOOTER = struct.Struct("<IBI")  # number of frames, descriptor (no checksums), seekable magic
_SKIPPABLE_HEADER = struct.Struct("<II")  # magic, content size


def seek_table(frame_sizes: Sequence[tuple[int, int]]) -> bytes:
    """The skippable frame that ends a compressed blob: each frame's (compressed, decompressed) size, then the footer
    that `read_seek_table` finds it by."""
    entries = b"".join(_SEEK_ENTRY.pack(*sizes) for sizes in frame_sizes)
    footer = _SEEK_FOOTER.pack(len(frame_sizes), 0, SEEKABLE_MAGIC)
    return _SKIPPABLE_HEADER.pack(SKIPPABLE_MAGIC, len(entries) + len(footer)) + entries + footer


def read_seek_table(fd: int, size: int) -> list[tuple[int, int]] | None:
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


_ZEROS = bytearray(ZERO_CHECK_BYTES)
"""Compared against, never written: with a ``bytearray`` on the left, ``==`` is one ``memcmp`` with any buffer."""


def is_zero(view: memoryview) -> bool:
    """Whether every byte of ``view`` is zero: a ``memcmp`` per chunk, stopping at the first chunk that differs."""
    chunk = len(_ZEROS)
    whole = len(view) - len(view) % chunk
    # _ZEROS on the left: a memoryview on the left compares item by item, some fifty times slower.
    if not all(_ZEROS == view[start : start + chunk] for start in range(0, whole, chunk)):  # noqa: SIM300
        return False
    return whole == len(view) or _ZEROS[: len(view) - whole] == view[whole:]


@functools.lru_cache(maxsize=64)
def zero_frame(size: int) -> bytes:
    """The frame :class:`~flowkit.datastore.blob_writer.BlobSink` compresses ``size`` zero bytes into, compressed
    once per size and process.

    Comparing a piece with zeros costs a fraction of compressing it, and the result is byte for byte what compressing
    it would give (a one-shot ``compress`` of the same input with the same settings), so blob names do not change.
    """
    return zstd_module().ZstdCompressor(level=COMPRESSION_LEVEL, write_checksum=False).compress(bytes(size))
