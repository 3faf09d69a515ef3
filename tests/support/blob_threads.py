"""Making the blob writer and reader split small artifacts over threads, so tests hit every split with a few MiB."""

from __future__ import annotations

import pytest

from flowkit.datastore import blob_reader, blob_writer


def split_blob_work(monkeypatch: pytest.MonkeyPatch, workers: int, parallel_min_bytes: int | None = None) -> None:
    """Let ``workers`` threads share each large read and write, and, if given, count work as large from
    ``parallel_min_bytes`` on. The writer and the reader each bind these names from `blob_format`, so both are set:
    setting them on `blob_format` alone would change neither."""
    for module in (blob_writer, blob_reader):
        monkeypatch.setattr(module, "io_workers", lambda: workers)
        if parallel_min_bytes is not None:
            monkeypatch.setattr(module, "PARALLEL_MIN_BYTES", parallel_min_bytes)
