"""How a blob's name follows from its bytes, and how a reader checks the bytes against the name.

A blob has one of two forms of name, both sha256:

- *whole-file*: the sha256 of the file (``sha256sum`` prints the name). Blobs assembled in memory (small pickles)
  and compressed blobs have it, as do raw blobs stored by earlier versions.
- *digest-listed*: a raw blob streamed to disk (larger than the in-memory limit) is the pickle stream followed by a
  digest list: the sha256 of each ``DIGEST_FRAME_BYTES`` frame of the stream (the last one may be shorter), then a
  footer (the stream's size, the frame size, ``DIGEST_LIST_MAGIC``). The name is the sha256 of that digest list and
  footer, i.e. of the file's last ``32 * frames + 16`` bytes: a two-level hash tree, as binding as one sha256 over the
  whole stream, whose frames are hashed on every CPU at once, when writing and when reading. Hashing one large
  buffer is a sequential pass that one core does at about 1 GiB/s, which made it the longest part of storing and
  loading a large artifact.

The two forms never collide: a whole-file name hashes a pickle (which ends in its STOP opcode ``.``) or a zstd blob
(which ends in the seekable magic), a digest-listed name hashes bytes that end in ``DIGEST_LIST_MAGIC``. A reader
tells the forms apart by the file's last bytes and trusts nothing in a digest list before its hash matched the name.
"""

from __future__ import annotations

import hashlib
import os
import struct
import threading
from pathlib import Path
from typing import Any

from flowkit.datastore.fileio import STAGING_BYTES, pread_buffered
from flowkit.errors import DataStoreError
from flowkit.plain_data import PlainData

DIGEST_FRAME_BYTES = 1 << 20
"""Frame of a digest-listed blob: one thread writes (or reads) it and hashes it right after, while the kernel's copy
has left it in the CPU's cache (a quarter cheaper than hashing memory that is not). Whole flows storing and loading
200 MiB ran faster with 1 MiB frames than with 512 KiB or 4 MiB ones."""
DIGEST_LIST_MAGIC = b"FKd1"
_DIGEST_FOOTER = struct.Struct("<QI4s")  # stream size, frame size, magic
_DIGEST_BYTES = hashlib.sha256().digest_size
_MIN_FRAME_BYTES = 4096
_MAX_FRAME_BYTES = 1 << 30


class CorruptBlobError(DataStoreError):
    """A blob's bytes no longer match its name: the storage changed them after they were written."""

    def __init__(self, path: Path, detail: str) -> None:
        self.path = path
        super().__init__(f"blob {path} is corrupt: {detail}")


class FileDigest:
    """Checks a whole-file name: the sha256 of the file's bytes, fed in file order by the reader, or by a helper
    thread of its own."""

    def __init__(self, fd: int, size: int, path: Path, name: str) -> None:
        self.size = size
        self._fd = fd
        self._path = path
        self._name = name
        self._sha = hashlib.sha256()
        self._hashed = 0
        self._helper: threading.Thread | None = None
        self._checked = False

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

    def finish(self) -> None:
        """Hash whatever the reader did not pass over (trailing bytes, or after a failure) and compare with the
        name: :class:`CorruptBlobError` if they differ."""
        if self._checked:
            return
        if self._helper is not None:
            self._helper.join()
        self._hash_rest()
        self._checked = True
        actual = self._sha.hexdigest()
        if actual != self._name:
            raise CorruptBlobError(self._path, f"its bytes hash to {actual}, not to its name")

    def _hash_rest(self) -> None:
        while self._hashed < self.size:
            chunk = pread_buffered(self._fd, min(STAGING_BYTES, self.size - self._hashed), self._hashed)
            if not chunk:
                break  # the file shrank under us: the digest then cannot match
            self._sha.update(chunk)
            self._hashed += len(chunk)


class DigestList(PlainData, frozen=True):
    """The verified digest list of a digest-listed blob: how its pickle stream is cut and what each frame hashes to."""

    stream_size: int
    frame_bytes: int
    digests: bytes

    def frame_range(self, index: int) -> tuple[int, int]:
        start = index * self.frame_bytes
        return start, min(start + self.frame_bytes, self.stream_size)

    @property
    def frames(self) -> int:
        return len(self.digests) // _DIGEST_BYTES

    def expected(self, index: int) -> bytes:
        return self.digests[index * _DIGEST_BYTES : (index + 1) * _DIGEST_BYTES]


def read_digest_list(fd: int, size: int, path: Path, name: str) -> DigestList | None:
    """The digest list a raw blob ends with, checked against the blob's name; None if the blob does not end in one
    (a whole-file name: a small blob, or one stored by an earlier version).

    A file that ends in the magic but whose list is inconsistent or does not hash to the name is corrupt. ``fd`` is
    read through the page cache (not yet switched to direct I/O).
    """
    if size < _DIGEST_FOOTER.size:
        return None
    footer = os.pread(fd, _DIGEST_FOOTER.size, size - _DIGEST_FOOTER.size)
    stream_size, frame_bytes, magic = _DIGEST_FOOTER.unpack(footer)
    if magic != DIGEST_LIST_MAGIC:
        return None
    frames = -(-stream_size // frame_bytes) if _MIN_FRAME_BYTES <= frame_bytes <= _MAX_FRAME_BYTES else -1
    if frames < 0 or stream_size + frames * _DIGEST_BYTES + _DIGEST_FOOTER.size != size:
        raise CorruptBlobError(path, "its footer does not describe its size")
    digests = os.pread(fd, frames * _DIGEST_BYTES, stream_size)
    actual = hashlib.sha256(digests + footer).hexdigest()
    if actual != name:
        raise CorruptBlobError(path, f"its digest list hashes to {actual}, not to its name")
    return DigestList(stream_size=stream_size, frame_bytes=frame_bytes, digests=digests)


class FrameCheck:
    """Checks a digest-listed blob's pickle stream frame by frame against its verified :class:`DigestList`.

    Frames lying wholly inside a large read are checked by the threads that read them (:meth:`check_frame`); the
    others are hashed in stream order as the reader passes over them (:meth:`update`), which skips frames already
    checked. :meth:`finish` reads and checks whatever the reader did not reach.
    """

    def __init__(self, fd: int, path: Path, digest_list: DigestList) -> None:
        self.digest_list = digest_list
        self.size = digest_list.stream_size
        self._fd = fd
        self._path = path
        self._checked = [False] * digest_list.frames
        self._position = 0  # in-order hashing has reached this stream offset
        self._open = hashlib.sha256()  # the frame that in-order hashing is inside of

    def check_frame(self, index: int, view: memoryview) -> None:
        """Check frame ``index`` (all of its bytes, from any thread)."""
        self._compare(index, hashlib.sha256(view).digest())

    def update(self, start: int, view: memoryview) -> None:
        """Take the stream's bytes ``[start, start + len(view))`` in order, checking each frame they complete."""
        while True:
            self._skip_checked_frames()
            offset = self._position - start
            if not 0 <= offset < len(view):
                return
            index = self._position // self.digest_list.frame_bytes
            frame_end = self.digest_list.frame_range(index)[1]
            taken = min(frame_end - self._position, len(view) - offset)
            self._open.update(view[offset : offset + taken])
            self._position += taken
            if self._position == frame_end:
                opened, self._open = self._open, hashlib.sha256()
                self._compare(index, opened.digest())

    def finish(self) -> None:
        """Read and check the frames the reader did not pass over."""
        self._skip_checked_frames()
        while self._position < self.size:
            start = self._position
            chunk = pread_buffered(self._fd, min(STAGING_BYTES, self.size - start), start)
            if not chunk:
                raise CorruptBlobError(self._path, "it ends before its stream does")
            self.update(start, memoryview(chunk))
            self._skip_checked_frames()

    def _skip_checked_frames(self) -> None:
        frame_bytes = self.digest_list.frame_bytes
        while self._position < self.size and self._position % frame_bytes == 0:
            index = self._position // frame_bytes
            if not self._checked[index]:
                return
            self._position = self.digest_list.frame_range(index)[1]

    def _compare(self, index: int, actual: bytes) -> None:
        if actual != self.digest_list.expected(index):
            start, end = self.digest_list.frame_range(index)
            raise CorruptBlobError(self._path, f"its bytes {start}-{end} do not hash to the digest its list holds")
        self._checked[index] = True


class FrameDigests:
    """The digest list of a stream being written: frames fed in stream order by one thread (:meth:`update`), or
    whole from any thread (:meth:`add_frame`) while no in-order feeding happens."""

    def __init__(self) -> None:
        self.frame_bytes = DIGEST_FRAME_BYTES
        self._digests: dict[int, bytes] = {}
        self._position = 0
        self._open = hashlib.sha256()

    def update(self, start: int, view: memoryview) -> None:
        """Hash the stream's bytes ``[start, start + len(view))``, which continue the bytes hashed so far."""
        if start != self._position:  # only whole frames, added by add_frame, may lie in between
            first, end = self._position // self.frame_bytes, start // self.frame_bytes
            assert self._position % self.frame_bytes == 0 and start % self.frame_bytes == 0
            assert all(index in self._digests for index in range(first, end)), "stream bytes are hashed in order"
            self._position = start
        while view:
            taken = min(len(view), self.frame_bytes - self._position % self.frame_bytes)
            self._open.update(view[:taken])
            self._position += taken
            view = view[taken:]
            if self._position % self.frame_bytes == 0:
                self._close_open_frame()

    def add_frame(self, start: int, view: Any) -> None:
        """Hash one whole frame, the stream's bytes ``[start, start + frame_bytes)``."""
        self._digests[start // self.frame_bytes] = hashlib.sha256(view).digest()

    def digest_list(self, stream_size: int) -> bytes:
        """What follows the stream in the blob: the digest of every frame, then the footer."""
        if self._position % self.frame_bytes:
            self._close_open_frame()
        frames = -(-stream_size // self.frame_bytes)
        assert sorted(self._digests) == list(range(frames)), "every frame of the stream was hashed"
        digests = b"".join(self._digests[index] for index in range(frames))
        return digests + _DIGEST_FOOTER.pack(stream_size, self.frame_bytes, DIGEST_LIST_MAGIC)

    def _close_open_frame(self) -> None:
        self._digests[(self._position - 1) // self.frame_bytes] = self._open.digest()
        self._open = hashlib.sha256()


def digest_list_name(digest_list: bytes) -> str:
    """The name of a digest-listed blob, from what :meth:`FrameDigests.digest_list` returned."""
    return hashlib.sha256(digest_list).hexdigest()
