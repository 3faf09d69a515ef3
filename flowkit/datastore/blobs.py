"""Content-addressed artifact storage under ``<root>/blobs/sha256/<sha[:2]>/<sha>``.

Blobs are immutable and named by a sha256 of their bytes (the format is in :mod:`flowkit.datastore.blob_format`,
the names in :mod:`flowkit.datastore.verify`), so an unchanged artifact is stored once however many tasks carry it,
and concurrent writers of the same blob publish identical bytes under one name (the first rename wins; later writers
drop their temporary copy). No lock is ever taken. Every temporary blob file is written in ``blobs/sha256`` itself,
not in a shard, so the blobs a killed task left half-written are found by listing one directory
(`DataStore.sweep_abandoned_writes`).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from flowkit.datastore.atomic import (
    BLOB_FILE_MODE,
    ensure_dir,
    publish,
    storage_errors,
    temp_path_beside,
    write_file_atomically,
)
from flowkit.datastore.blob_reader import load_blob
from flowkit.datastore.blob_writer import BlobSink, dump_artifact
from flowkit.datastore.records import ArtifactRef
from flowkit.errors import DataStoreError


def _type_name(value: Any) -> str:
    kind = type(value)
    return kind.__qualname__ if kind.__module__ == "builtins" else f"{kind.__module__}.{kind.__qualname__}"


class BlobStore:
    """Stores and loads artifacts by content hash."""

    def __init__(self, root: Path) -> None:
        self.directory = root / "blobs" / "sha256"

    def path(self, sha256: str) -> Path:
        return self.directory / sha256[:2] / sha256

    def put(self, value: Any) -> ArtifactRef:
        """Serialize and store ``value``; an existing blob with the same content is not rewritten.

        Raises whatever the pickler raises for an unpicklable value, leaving no file behind.
        """
        provisional = self.directory / "incoming"
        sink = BlobSink(open_temp=lambda: self._open_temp(provisional))
        try:
            with storage_errors("write an artifact blob in", self.directory):
                dump_artifact(value, sink)
                in_memory = sink.close()
        except BaseException:
            sink.abort()
            raise
        sha256 = sink.name
        final = self.path(sha256)
        if in_memory is not None:
            created = not final.exists() and write_file_atomically(
                final, in_memory, replace=False, temp_dir=self.directory, mode=BLOB_FILE_MODE
            )
        else:
            assert sink.temp_path is not None
            ensure_dir(final.parent)
            with storage_errors("publish artifact blob", final):
                created = publish(sink.temp_path, final, replace=False)
        if not created and not self._reused(final):
            return self.put(value)  # garbage collection removed the existing copy just now: store it again
        return ArtifactRef(sha256=sha256, size=sink.size, type=_type_name(value))

    def _reused(self, path: Path) -> bool:
        """Mark an existing blob as just stored again (False if it is gone): garbage collection spares blobs
        changed within its grace period, and this one is about to be named by a commit record even if no record
        names it today."""
        with storage_errors("touch artifact blob", path):
            try:
                os.utime(path)
            except FileNotFoundError:
                return False
        return True

    def load(self, sha256: str) -> Any:
        """The artifact stored as blob ``sha256``, verified against that name (:class:`CorruptBlobError` if not)."""
        path = self.path(sha256)
        try:
            with storage_errors("read artifact blob", path):
                return load_blob(path, sha256)
        except FileNotFoundError:
            raise DataStoreError(f"blob {path} is missing") from None

    def _open_temp(self, provisional: Path) -> Path:
        """Large blobs are streamed before their hash is known: write them beside the blob tree, then rename."""
        ensure_dir(self.directory)
        return temp_path_beside(provisional)
