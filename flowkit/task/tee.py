"""Copy a task's stdout/stderr into the datastore while still writing them to the process's own streams.

Inside a pod, the container's streams feed ``kubectl logs`` and Argo's log archive, while the datastore copy is
what the client API reads, the same ``<attempt>.out|.err`` files the local runtime writes. The copy works at the
file-descriptor level, so output of C extensions and child processes is captured too.
"""

from __future__ import annotations

import os
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from flowkit.datastore import DataStore, LogWriter, TaskCoordinates

_READ_SIZE = 64 << 10
_DRAIN_TIMEOUT_SECONDS = 10.0
"""How long to wait for the copy to drain once the task is done (a leftover child may keep the pipe open)."""


@contextmanager
def tee_output(store: DataStore, coords: TaskCoordinates, attempt: int, *, enabled: bool = True) -> Iterator[None]:
    if not enabled:
        yield
        return
    streams = [(1, sys.stdout, "out"), (2, sys.stderr, "err")]
    copies = []
    for fd, stream, name in streams:
        stream.flush()
        writer = store.log_writer(coords, attempt, name)  # type: ignore[arg-type]
        copies.append(_FdCopy(fd, writer))
    try:
        yield
    finally:
        for (_, stream, _), copy in zip(streams, copies, strict=True):
            stream.flush()
            copy.stop()


class _FdCopy:
    """Redirects ``fd`` into a pipe; a thread copies the pipe to the original target and to ``writer``."""

    def __init__(self, fd: int, writer: LogWriter) -> None:
        self.fd = fd
        self.writer = writer
        self.original = os.dup(fd)
        read_end, write_end = os.pipe()
        os.dup2(write_end, fd)
        os.close(write_end)
        self.read_end = read_end
        self.thread = threading.Thread(target=self._pump, name=f"tee-fd{fd}", daemon=True)
        self.thread.start()

    def _pump(self) -> None:
        while chunk := os.read(self.read_end, _READ_SIZE):
            view = memoryview(chunk)
            while view:
                view = view[os.write(self.original, view) :]
            self.writer.write(chunk)

    def stop(self) -> None:
        os.dup2(self.original, self.fd)  # closes our end of the pipe: the pump sees EOF
        self.thread.join(_DRAIN_TIMEOUT_SECONDS)
        os.close(self.original)
        if not self.thread.is_alive():
            os.close(self.read_end)
        self.writer.close()
