"""Removing the temporary files of writers that died: half-written blobs, commit records and captured logs.

A killed task or scheduler leaves its unfinished writes under their temporary names (`flowkit.datastore.atomic`);
readers never look at them, but they take space (a half-written 100 MiB blob is 100 MiB). A temporary file is
abandoned when its writer is known to be dead (its name says which host and pid made it, and on this host that
process no longer exists) or when it has not changed for `STALE_TEMP_SECONDS` (a writer on another machine, or a
name from an older version). A live writer's file is never taken (its modification time moves as it writes); a
pid that a process started after the file's last write now holds is recognised as reused (pids wrap around on a
busy machine), so the dead writer's file still goes.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterable
from pathlib import Path

from flowkit.datastore.atomic import HOST, is_temp_name, temp_writer
from flowkit.plain_data import PlainData

STALE_TEMP_SECONDS = 24 * 3600
"""A temporary file unchanged for this long has no live writer, wherever that writer ran."""


class Swept(PlainData):
    """What a sweep removed (or, in a dry run, would remove)."""

    files: int = 0
    bytes: int = 0

    def add(self, size: int) -> None:
        self.files += 1
        self.bytes += size

    def __add__(self, other: Swept) -> Swept:
        return Swept(files=self.files + other.files, bytes=self.bytes + other.bytes)


def sweep_temporary_files(
    directories: Iterable[Path], *, recursive: bool = False, dry_run: bool = False, now: float | None = None
) -> Swept:
    """Remove the abandoned temporary files directly in ``directories`` (and below them, if ``recursive``)."""
    swept = Swept()
    moment = time.time() if now is None else now
    for directory in directories:
        for entry in _entries(directory, recursive):
            try:
                status = entry.stat(follow_symlinks=False)
            except FileNotFoundError:  # its writer finished (renamed it) or another sweep took it
                continue
            if not is_abandoned(entry.name, status.st_mtime, moment):
                continue
            if not dry_run:
                try:
                    os.unlink(entry.path)
                except FileNotFoundError:
                    continue
            swept.add(status.st_size)
    return swept


def _entries(directory: str | Path, recursive: bool) -> Iterable[os.DirEntry[str]]:
    try:
        with os.scandir(directory) as listing:
            entries = list(listing)
    except (FileNotFoundError, NotADirectoryError):
        return
    for entry in entries:
        if is_temp_name(entry.name) and entry.is_file(follow_symlinks=False):
            yield entry
        elif recursive and entry.is_dir(follow_symlinks=False):
            yield from _entries(entry.path, recursive)


def is_abandoned(name: str, modified: float, now: float) -> bool:
    """Whether the temporary file or directory ``name``, last changed at ``modified``, has no live writer."""
    if now - modified > STALE_TEMP_SECONDS:
        return True
    writer = temp_writer(name)
    return writer is not None and writer[0] == HOST and not _may_be_writer(writer[1], modified)


def _may_be_writer(pid: int, modified: float) -> bool:
    """Whether process ``pid`` runs and may be the one that last wrote a file at ``modified``. A zombie (killed, not
    yet reaped by whoever inherited it) writes nothing more, and a process that started after that moment merely
    reuses the pid of a writer that died (pids wrap around on a busy machine)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        pass
    status = _process_status(pid)
    if status is None:
        return True  # no /proc to ask: assume the worst
    state, started = status
    return state != "Z" and started <= modified


def _process_status(pid: int) -> tuple[str, float] | None:
    """Process ``pid``'s state letter and start time (seconds since the epoch), from /proc; None where unreadable."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        boot = next(line for line in Path("/proc/stat").read_text().splitlines() if line.startswith("btime "))
    except (OSError, StopIteration, IndexError):
        return None
    # After the command name: field 3 of stat is the state, field 22 the start time in clock ticks after boot.
    return fields[0], int(boot.split()[1]) + int(fields[19]) / os.sysconf("SC_CLK_TCK")
