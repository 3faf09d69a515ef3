"""Content-addressed artifacts and per-attempt commit records under one root (a local directory or a PVC mount)."""

from flowkit.datastore.identity import (
    IndexPath,
    TaskCoordinates,
    format_index_path,
    index_path_of_task_id,
    parse_index_path,
    task_id_for,
)
from flowkit.datastore.logs import LogWriter
from flowkit.datastore.records import ArtifactRef, ErrorInfo, ForeachFrame, RunRecord, TaskRecord, utc_now
from flowkit.datastore.store import DATASTORE_ROOT_ENV, AlreadyCommittedError, DataStore, resolve_datastore_root

__all__ = [
    "DATASTORE_ROOT_ENV",
    "AlreadyCommittedError",
    "ArtifactRef",
    "DataStore",
    "ErrorInfo",
    "ForeachFrame",
    "IndexPath",
    "LogWriter",
    "RunRecord",
    "TaskCoordinates",
    "TaskRecord",
    "format_index_path",
    "index_path_of_task_id",
    "parse_index_path",
    "resolve_datastore_root",
    "task_id_for",
    "utc_now",
]
