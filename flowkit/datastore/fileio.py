"""File I/O for large blobs: direct I/O through aligned staging buffers, and early writeback of cached writes.

On virtual machines, moving a large blob between the disk and memory with ``O_DIRECT`` costs less CPU than going
through the page cache; filesystems that refuse direct I/O get plain I/O (callers switch back on ``EINVAL``). A blob
the next task will read soon is better left in the page cache, though, and its writeback started while it is being
written (:func:`start_writeback`), so that the final fsync waits for little.
"""

from __future__ import annotations

import fcntl
import functools
import mmap
import os
import sys
from collections.abc import Callable

STAGING_BYTES = 8 << 20
"""Size of one staging buffer (a multiple of every alignment ``O_DIRECT`` asks for)."""
_SYNC_FILE_RANGE_WRITE = 2  # linux/fs.h: start writeback of the range's dirty pages, do not wait

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


def set_direct(fd: int, enabled: bool) -> None:
    """Switch ``fd`` in or out of ``O_DIRECT`` (nothing happens where the platform has no direct I/O)."""
    if not hasattr(os, "O_DIRECT"):
        return
    flags = fcntl.fcntl(fd, fcntl.F_GETFL)
    fcntl.fcntl(fd, fcntl.F_SETFL, flags | os.O_DIRECT if enabled else flags & ~os.O_DIRECT)


def pread_buffered(fd: int, count: int, offset: int) -> bytes:
    """``pread`` through the page cache, whatever mode a reader left the file in (a file in direct mode refuses
    reads that are not aligned)."""
    set_direct(fd, False)
    return os.pread(fd, count, offset)


def pwrite_all(fd: int, view: memoryview, offset: int) -> None:
    """Write all of ``view`` at ``offset`` (``pwrite`` may write less than asked)."""
    while view:
        written = os.pwrite(fd, view, offset)
        view, offset = view[written:], offset + written


def preadv_all(fd: int, target: memoryview, offset: int) -> int:
    """Read into ``target`` from ``offset`` until it is full or the file ends; returns how many bytes arrived."""
    done = 0
    while done < len(target):
        count = os.preadv(fd, [target[done:]], offset + done)
        if not count:
            break
        done += count
    return done


def start_writeback(fd: int, offset: int, length: int) -> None:
    """Start writing ``fd``'s cached bytes ``[offset, offset + length)`` to the disk without waiting (Linux's
    ``sync_file_range``). Best effort: where it is unavailable nothing happens and the final fsync does all the
    work; a write error surfaces at that fsync."""
    sync_file_range = _sync_file_range()
    if sync_file_range is not None:
        sync_file_range(fd, offset, length, _SYNC_FILE_RANGE_WRITE)


@functools.cache
def _sync_file_range() -> Callable[[int, int, int, int], int] | None:
    """libc's ``sync_file_range`` through ctypes, bound on first use; None where unavailable."""
    if sys.platform != "linux":
        return None
    import ctypes

    try:
        call = ctypes.CDLL(None, use_errno=True).sync_file_range
    except (OSError, AttributeError):
        return None
    call.argtypes = [ctypes.c_int, ctypes.c_int64, ctypes.c_int64, ctypes.c_uint]
    call.restype = ctypes.c_int
    return call
