"""Copy a task's stdout/stderr into the datastore while still writing them to the process's own streams.

Inside a pod, the container's streams feed ``kubectl logs`` and Argo's log archive, while the datastore copy is
what the client API reads, the same ``<attempt>.out|.err`` files the local runtime writes, each line stamped with
the time it was read (the pod's own log goes with the pod). The copy works at the
file-descriptor level, so output of C extensions and child processes is captured too.
"""

from __future__ import annotations

import os
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from flowkit.datastore import DataStore, LogWriter
from flowkit.identity import TaskRef

_READ_SIZE = 64 << 10
_DRAIN_TIMEOUT_SECONDS = 10.0
"""How long to wait for the copy to drain once the task is done (a leftover child may keep the pipe open)."""


@contextmanager
def tee_output(store: DataStore, coords: TaskRef, attempt: int, *, enabled: bool = True) -> Iterator[None]:
    if not enabled:
        yield
        return
    streams = [(1, sys.stdout, "out"), (2, sys.stderr, "err")]
    copies = []
    for fd, stream, name in streams:
        stream.flush()
        writer = store.log_writer(coords, attempt, name, timestamped=True)  # type: ignore[arg-type]
        copies.append(_FdCopy(fd, writer))
    try:
        yield
    finally:
        for (_, stream, _), copy in zip(streams, copies, strict=True):
            stream.flush()
            copy.stop()


class _FdCopy:
    """Redirects ``fd`` into a pipe; a thread copies the pipe to the original target and to ``writer``.

    A process the task started may outlive it while holding the pipe's write end, so the copy may still be running
    when :meth:`stop` gives up waiting. It then keeps its descriptors until it sees end of file and closes them
    itself: closing them from :meth:`stop` would let the next ``open`` reuse the original target's number and the
    copy would write the late output into that unrelated file.
    """

    def __init__(self, fd: int, writer: LogWriter) -> None:
        self.fd = fd
        self.writer = writer
        self.original = os.dup(fd)
        read_end, write_end = os.pipe()
        os.dup2(write_end, fd)
        os.close(write_end)
        self.read_end = read_end
        self._lock = threading.Lock()
        self._stopped = False
        self._pumped = False
        self.thread = threading.Thread(target=self._pump, name=f"tee-fd{fd}", daemon=True)
        self.thread.start()

    def _pump(self) -> None:
        try:
            while chunk := os.read(self.read_end, _READ_SIZE):
                view = memoryview(chunk)
                while view:
                    view = view[os.write(self.original, view) :]
                self.writer.write(chunk)  # dropped once the log is published: late output reaches only the stream
        finally:
            with self._lock:
                self._pumped = True
                if self._stopped:
                    self._close_descriptors()

    def stop(self) -> None:
        os.dup2(self.original, self.fd)  # closes our end of the pipe: the pump sees EOF
        self.thread.join(_DRAIN_TIMEOUT_SECONDS)
        with self._lock:
            self._stopped = True
            if self._pumped:
                self._close_descriptors()
        self.writer.close()

    def _close_descriptors(self) -> None:
        os.close(self.original)
        os.close(self.read_end)
