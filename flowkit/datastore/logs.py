"""Writers for a task's captured stdout/stderr.

Output is streamed to a temporary file while the task runs and renamed into place when the stream closes, so a
reader never mistakes a half-written log for a finished one, and an empty stream leaves no file at all (a
10,000-way foreach should not create 20,000 empty files).

A pod's logs are stored with each line prefixed by the UTC time it was read (``2026-01-31T12:00:00.123456Z ``): the
pod's own log is gone with the pod, and the stored copy is what tells, after the fact, where a task spent its time.
"""

from __future__ import annotations

import os
import threading
from datetime import datetime, timezone
from pathlib import Path

from flowkit.datastore.atomic import ensure_dir, publish, storage_errors, temp_path_beside


class LogWriter:
    """Append-only writer of one captured stream; safe to call from the thread that pumps the stream.

    Once closed it ignores further writes: a published log never changes, and a late write must not start a new
    temporary file that nobody would ever publish or remove.
    """

    def __init__(self, path: Path, *, timestamped: bool = False) -> None:
        self.path = path
        self._stamper = LineStamper() if timestamped else None
        self._temp: Path | None = None
        self._fd: int | None = None
        self._closed = False
        self._lock = threading.Lock()

    def write(self, data: bytes) -> None:
        if not data:
            return
        with self._lock, storage_errors("write captured output", self.path):
            if self._closed:
                return
            if self._stamper is not None:
                data = self._stamper.stamp(data)
            if self._fd is None:
                ensure_dir(self.path.parent)
                self._temp = temp_path_beside(self.path)
                self._fd = os.open(self._temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
            view = memoryview(data)
            while view:
                view = view[os.write(self._fd, view) :]

    def close(self) -> None:
        """Publish the captured output (nothing is published if nothing was written)."""
        with self._lock, storage_errors("publish captured output", self.path):
            self._closed = True
            if self._fd is None or self._temp is None:
                return
            os.fsync(self._fd)
            os.close(self._fd)
            self._fd = None
            publish(self._temp, self.path)

    def __enter__(self) -> LogWriter:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


class LineStamper:
    """Prefixes every line of a byte stream, given in arbitrary chunks, with the UTC time its first byte arrived."""

    def __init__(self) -> None:
        self._at_line_start = True

    def stamp(self, chunk: bytes) -> bytes:
        stamp = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ ").encode()
        ends_line = chunk.endswith(b"\n")
        body = chunk[:-1] if ends_line else chunk
        stamped = (stamp if self._at_line_start else b"") + body.replace(b"\n", b"\n" + stamp)
        self._at_line_start = ends_line
        return stamped + b"\n" if ends_line else stamped
