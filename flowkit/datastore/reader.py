"""Reading blobs back: one pass from disk into the unpickled object, with the next disk read already under way.

``pickle.load`` asks for small frames through ``read`` and for each large bytes-like payload through one
``readinto`` of its final buffer. Both are served from a page-aligned window filled with ``O_DIRECT`` for large
blobs (the page cache costs more than the disk on virtual machines); while one window is copied into the target,
a helper thread reads the next, so disk time and copy time overlap. The helper is always joined before
``readinto`` returns: no thread outlives a call (task processes are forked).
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import mmap
import os
import pickle
import threading
from pathlib import Path
from typing import Any

from flowkit.datastore.serialization import STAGING_BYTES, ZSTD_MAGIC, borrow_staging, return_staging, zstd_module


def load_artifact(path: Path) -> Any:
    """Unpickle a stored blob, decompressing it if its first bytes say so."""
    with BlobReader(path) as reader:
        if reader.peek(len(ZSTD_MAGIC)) == ZSTD_MAGIC:
            return _load_compressed(reader)
        return pickle.load(reader)


class _Prefetch:
    """One window being filled by a helper thread."""

    def __init__(self, reader: BlobReader, buffer: mmap.mmap, offset: int) -> None:
        self.buffer, self.offset = buffer, offset
        self.count = 0
        self.error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, args=(reader,), daemon=True)
        self._thread.start()

    def _run(self, reader: BlobReader) -> None:
        try:
            self.count = reader.pread(self.buffer, self.offset)
        except BaseException as error:  # re-raised in the reading thread by wait()
            self.error = error

    def wait(self) -> int:
        self._thread.join()
        if self.error is not None:
            raise self.error
        return self.count


class BlobReader:
    """A read-only file object over one blob, for ``pickle.load`` and zstd's stream reader."""

    def __init__(self, path: Path) -> None:
        self.name = str(path)
        self._fd = os.open(path, os.O_RDONLY)
        self._size = os.fstat(self._fd).st_size
        if self._size >= STAGING_BYTES:
            # Large blobs bypass the page cache; small ones stay cached for the next reader.
            with contextlib.suppress(OSError, AttributeError):
                fcntl.fcntl(self._fd, fcntl.F_SETFL, fcntl.fcntl(self._fd, fcntl.F_GETFL) | os.O_DIRECT)
        self._window = borrow_staging()
        self._spare: mmap.mmap | None = None
        self._prefetch: _Prefetch | None = None
        self._window_start = 0  # file offset of the window's first byte
        self._window_end = 0
        self._position = 0

    def __enter__(self) -> BlobReader:
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self._prefetch is not None:
            with contextlib.suppress(OSError):
                self._prefetch.wait()
            self._spare = self._prefetch.buffer
        os.close(self._fd)
        for buffer in (self._window, self._spare):
            if buffer is not None:
                return_staging(buffer)

    def peek(self, size: int) -> bytes:
        start = self._position
        data = self.read(size)
        self._position = start
        return data

    def readinto(self, buffer: Any) -> int:
        target = memoryview(buffer).cast("B")
        done = 0
        try:
            while done < len(target) and self._position < self._size:
                if not self._window_start <= self._position < self._window_end:
                    self._fill_window(wanted_end=self._position + len(target) - done)
                offset = self._position - self._window_start
                taken = min(len(target) - done, self._window_end - self._position)
                target[done : done + taken] = memoryview(self._window)[offset : offset + taken]
                done += taken
                self._position += taken
        finally:
            if self._prefetch is not None:
                self._prefetch.wait()  # keep its data for the next call, but leave no thread running
        return done

    def read(self, size: int = -1) -> bytes:
        remaining = self._size - self._position
        data = bytearray(remaining if size < 0 else min(size, remaining))
        return bytes(data[: self.readinto(data)])

    def readline(self) -> bytes:
        line = bytearray()
        while not line.endswith(b"\n") and self._position < self._size:
            line += self.read(1)
        return bytes(line)

    def pread(self, buffer: mmap.mmap, offset: int) -> int:
        try:
            return os.preadv(self._fd, [buffer], offset)
        except OSError as error:
            if error.errno != errno.EINVAL:
                raise
            fcntl.fcntl(self._fd, fcntl.F_SETFL, fcntl.fcntl(self._fd, fcntl.F_GETFL) & ~os.O_DIRECT)
            return os.preadv(self._fd, [buffer], offset)

    def _fill_window(self, wanted_end: int) -> None:
        """Make the window hold the current position; start reading the following window if it will be needed."""
        start = self._position & ~(mmap.PAGESIZE - 1)
        prefetch, self._prefetch = self._prefetch, None
        count = prefetch.wait() if prefetch is not None else 0
        if prefetch is not None and prefetch.offset <= self._position < prefetch.offset + count:
            self._window, self._spare = prefetch.buffer, self._window
            start = prefetch.offset
        else:
            if prefetch is not None:
                self._spare = prefetch.buffer
            count = self.pread(self._window, start)
        self._window_start, self._window_end = start, start + count
        if wanted_end > self._window_end and self._window_end < self._size:
            spare = self._spare if self._spare is not None else borrow_staging()
            self._spare = None
            self._prefetch = _Prefetch(self, spare, self._window_end)


def _load_compressed(file: BlobReader) -> Any:
    zstd = zstd_module()
    if zstd is None:
        from flowkit.errors import DataStoreError

        raise DataStoreError(f"blob {file.name} is zstd-compressed; install 'zstandard' to read it")
    with contextlib.closing(zstd.ZstdDecompressor().stream_reader(file, read_size=STAGING_BYTES)) as reader:
        return pickle.load(reader)
