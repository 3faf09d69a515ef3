"""Crash-safe file creation: write to a private temporary name in the target directory, fsync, rename.

A reader therefore sees either no file or the complete file, whatever moment a writer is killed at; a temporary
name is unique per process and call, so concurrent writers never share one.
"""

from __future__ import annotations

import itertools
import os
from pathlib import Path

_TEMP_PREFIX = ".tmp-"
_temp_counter = itertools.count()


def temp_path_beside(path: Path) -> Path:
    """A temporary name in ``path``'s directory (same filesystem, so the final rename is atomic)."""
    return path.with_name(f"{_TEMP_PREFIX}{path.name}.{os.getpid()}.{next(_temp_counter)}")


def is_temp_name(name: str) -> bool:
    """Whether a directory entry is an unfinished write that readers must ignore."""
    return name.startswith(_TEMP_PREFIX)


def ensure_dir(path: Path) -> None:
    """Create ``path`` and its parents; concurrent creators do not race each other into errors."""
    path.mkdir(parents=True, exist_ok=True)


def publish(temp: Path, final: Path, *, replace: bool = True) -> bool:
    """Rename ``temp`` to ``final``; with ``replace=False`` keep an existing ``final`` and drop ``temp``.

    Returns whether ``temp`` became ``final``. Used for content-addressed blobs, where an existing file already
    holds the same bytes and rewriting it would only cost time.
    """
    if not replace and final.exists():
        temp.unlink(missing_ok=True)
        return False
    os.replace(temp, final)
    return True


def write_file_atomically(path: Path, data: bytes, *, replace: bool = True) -> bool:
    """Write ``data`` as ``path`` so that no reader ever sees a partial file."""
    ensure_dir(path.parent)
    temp = temp_path_beside(path)
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
        os.fsync(fd)
    except BaseException:
        os.close(fd)
        temp.unlink(missing_ok=True)
        raise
    os.close(fd)
    return publish(temp, path, replace=replace)
