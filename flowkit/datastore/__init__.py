"""Content-addressed artifacts and per-attempt commit records under one root (a local directory or a PVC mount)."""

from flowkit.datastore.logs import LogWriter
from flowkit.datastore.records import ArtifactRef, ErrorInfo, ForeachFrame, RunRecord, TaskRecord, utc_now
from flowkit.datastore.store import AlreadyCommittedError, DataStore
from flowkit.settings import resolve_datastore_root

__all__ = [
    "AlreadyCommittedError",
    "ArtifactRef",
    "DataStore",
    "ErrorInfo",
    "ForeachFrame",
    "LogWriter",
    "RunRecord",
    "TaskRecord",
    "resolve_datastore_root",
    "utc_now",
]
