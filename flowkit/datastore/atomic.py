"""Crash-safe file creation: write to a private temporary name in the target directory, fsync, rename.

A reader therefore sees either no file or the complete file, whatever moment a writer is killed at; a temporary
name is unique per process and call, so concurrent writers never share one. It also names its writer
(``.tmp-<final name>~<host>~<pid>~<n>``), so that the temporary files of writers that died can be told from those
of writers still at work (`flowkit.datastore.sweep`).
"""

from __future__ import annotations

import errno
import itertools
import os
from pathlib import Path
from types import TracebackType

from flowkit.errors import StorageError

_TEMP_PREFIX = ".tmp-"
_NO_HARD_LINKS = frozenset({errno.EPERM, errno.EOPNOTSUPP, errno.ENOTSUP, errno.EMLINK})
"""What ``link()`` fails with on filesystems (some FUSE and object-store mounts) that have no hard links."""
SHARED_DIR_MODE = 0o2775
"""Datastore directories are group-writable and setgid, whatever the umask: pods of different uids in one group (the
pods' fsGroup) write beside each other, and everything created below keeps the directory's group."""
BLOB_FILE_MODE = 0o664
"""Blobs are group-writable (under the pods' umask 002): a run storing a blob that already exists marks it as used
again (``os.utime``, which garbage collection reads), which only the owner or a writer may do, so pods of another
uid in the datastore's group need write access. Nothing is ever written into a finished blob, and every load
verifies a blob against its name."""
_temp_counter = itertools.count()
HOST = os.uname().nodename.replace("~", "-")
"""This machine (a pod, on a shared volume): a pid means something only on the host that issued it."""


STORAGE_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EACCES, errno.EPERM})
"""Failures of the storage itself (full, read-only, not ours), as opposed to a missing file or a bug."""


class storage_errors:
    """Turn a storage failure inside the block into one `StorageError` naming ``operation``, the path and the cause.

    The path is the one the system call named when it names one, else ``path`` (a write to an open descriptor).
    A class rather than a generator-based context manager: every read and write of the datastore enters one, and
    a resume or a join over a wide foreach makes hundreds of them, where a generator costs several times more.
    """

    __slots__ = ("operation", "path")

    def __init__(self, operation: str, path: str | Path) -> None:
        self.operation = operation
        self.path = path

    def __enter__(self) -> None:
        return None

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        if isinstance(error, OSError) and error.errno in STORAGE_ERRNOS:
            raise StorageError(self.operation, error.filename or self.path, error) from error


def temp_path_beside(path: Path) -> Path:
    """A temporary name in ``path``'s directory (same filesystem, so the final rename is atomic)."""
    return path.with_name(f"{_TEMP_PREFIX}{path.name}~{HOST}~{os.getpid()}~{next(_temp_counter)}")


def is_temp_name(name: str) -> bool:
    """Whether a directory entry is an unfinished write that readers must ignore."""
    return name.startswith(_TEMP_PREFIX)


def temp_writer(name: str) -> tuple[str, int] | None:
    """The (host, pid) a temporary name was made by, or None for a name that does not say (older versions)."""
    parts = name.split("~")
    if len(parts) != 4 or not parts[2].isdigit():
        return None
    return parts[1], int(parts[2])


def ensure_dir(path: str | Path) -> None:
    """Create ``path`` and its missing parents as `SHARED_DIR_MODE`; concurrent creators do not race each other
    into errors, and directories that exist are left as they are (they may not be ours to change)."""
    with storage_errors("create directory", path):
        try:
            os.mkdir(path)
        except FileExistsError:
            return
        except FileNotFoundError:
            ensure_dir(Path(path).parent)
            try:
                os.mkdir(path)
            except FileExistsError:
                return
        os.chmod(path, SHARED_DIR_MODE)  # mkdir applies the umask and never sets setgid itself


def publish(temp: Path, final: Path, *, replace: bool = True) -> bool:
    """Rename ``temp`` to ``final``; with ``replace=False`` create ``final`` only if it does not exist yet.

    Returns whether ``temp`` became ``final``. Without ``replace`` the creation is atomic (a hard link, which fails
    on an existing name, then the temporary name is dropped): of two concurrent writers exactly one wins and the file
    never changes once a reader may have seen it. That makes commit records and run records create-once, and spares
    content-addressed files (whose existing copy holds the same bytes) a rewrite.
    """
    if replace:
        os.replace(temp, final)
        return True
    try:
        os.link(temp, final)
    except FileExistsError:
        return False
    except OSError as error:
        if error.errno not in _NO_HARD_LINKS:
            raise
        if final.exists():  # a filesystem without hard links: the check and the rename are not one step
            return False
        os.rename(temp, final)
        return True
    finally:
        temp.unlink(missing_ok=True)
    return True


def link_file(source: str | Path, target: str | Path) -> bool:
    """Give the finished file ``source`` a second name ``target``, unless ``target`` exists; returns whether it did.

    For immutable files only (commit records, logs): both names show the same bytes forever. On a filesystem without
    hard links the bytes are copied, as `write_file_atomically` writes them.
    """
    with storage_errors("link", target):
        try:
            os.link(source, target)
        except FileExistsError:
            return False
        except OSError as error:
            if error.errno not in _NO_HARD_LINKS:
                raise
            return write_file_atomically(Path(target), Path(source).read_bytes(), replace=False)
    return True


def write_file_atomically(
    path: Path, data: bytes, *, replace: bool = True, temp_dir: Path | None = None, mode: int = 0o644
) -> bool:
    """Write ``data`` as ``path`` so that no reader ever sees a partial file (a failed write leaves no file); the
    file gets ``mode`` as the umask allows.

    ``temp_dir`` (on the same filesystem) holds the temporary file instead of ``path``'s own directory: where
    abandoned writes are looked for (the blob tree keeps them all in its top directory).
    """
    ensure_dir(path.parent)
    temp = temp_path_beside(path) if temp_dir is None else temp_dir / temp_path_beside(path).name
    with storage_errors("write", path):
        fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
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
