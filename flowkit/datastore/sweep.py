"""Removing the temporary files of writers that died: half-written blobs, commit records and captured logs.

A killed task or scheduler leaves its unfinished writes under their temporary names (`flowkit.datastore.atomic`);
readers never look at them, but they take space (a half-written 100 MiB blob is 100 MiB). A temporary file is
abandoned when its writer is known to be dead (its name says which host and pid made it, and on this host that
process no longer exists) or when it has not changed for `STALE_TEMP_SECONDS` (a writer on another machine, or a
name from an older version). A live writer's file is never taken (its modification time moves as it writes),
and a pid reused by an unrelated process only delays the removal until the file is stale.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from flowkit.datastore.atomic import HOST, is_temp_name, temp_writer

STALE_TEMP_SECONDS = 24 * 3600
"""A temporary file unchanged for this long has no live writer, wherever that writer ran."""


@dataclass
class Swept:
    """What a sweep removed (or, in a dry run, would remove)."""

    files: int = 0
    bytes: int = 0

    def add(self, size: int) -> None:
        self.files += 1
        self.bytes += size

    def __add__(self, other: Swept) -> Swept:
        return Swept(self.files + other.files, self.bytes + other.bytes)


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
            if not _abandoned(entry.name, status.st_mtime, moment):
                continue
            if not dry_run:
                try:
                    os.unlink(entry.path)
                except FileNotFoundError:
                    continue
            swept.add(status.st_size)
    return swept


def _entries(directory: Path, recursive: bool) -> Iterable[os.DirEntry[str]]:
    try:
        with os.scandir(directory) as listing:
            entries = list(listing)
    except (FileNotFoundError, NotADirectoryError):
        return
    for entry in entries:
        if is_temp_name(entry.name) and entry.is_file(follow_symlinks=False):
            yield entry
        elif recursive and entry.is_dir(follow_symlinks=False):
            yield from _entries(Path(entry.path), recursive)


def _abandoned(name: str, modified: float, now: float) -> bool:
    if now - modified > STALE_TEMP_SECONDS:
        return True
    writer = temp_writer(name)
    return writer is not None and writer[0] == HOST and not _alive(writer[1])


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        return True
    return True
