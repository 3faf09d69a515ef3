"""The datastore: run records, per-attempt commit records, captured logs and listings, over one root directory.

Layout (the contract every scheduler and reader shares)::

    <root>/runs/<Flow>/<run_id>/run.json
    <root>/runs/<Flow>/<run_id>/<step>/<task_id>/<attempt>.json      commit record, written last
    <root>/runs/<Flow>/<run_id>/<step>/<task_id>/<attempt>.out|.err  captured output (only when non-empty)

The same code serves a local directory and a PVC mounted into many pods: every file is created by an atomic rename
and nothing is ever locked or rewritten in place.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from flowkit.datastore.atomic import ensure_dir, is_temp_name, link_file, storage_errors, write_file_atomically
from flowkit.datastore.blobs import BlobStore
from flowkit.datastore.logs import LogWriter
from flowkit.datastore.records import ArtifactRef, RunRecord, TaskRecord
from flowkit.errors import DataStoreError
from flowkit.identity import TaskRef, checked_name
from flowkit.plain_data import replace
from flowkit.settings import resolve_datastore_root

if TYPE_CHECKING:
    from flowkit.datastore.sweep import Swept

LogStream = Literal["out", "err"]


class AlreadyCommittedError(DataStoreError):
    """A task attempt that already has a commit record was committed again; the first record stands."""


class DataStore:
    """Reads and writes one datastore root."""

    def __init__(self, root: str | os.PathLike[str] | None = None) -> None:
        self.root = resolve_datastore_root(root)
        self.blobs = BlobStore(self.root)
        self._step_dirs: dict[tuple[str, str, str], Path] = {}
        """`step_dir` by (flow, run id, step): checked and joined once, not for each of a step's many tasks."""
        self._clones: dict[TaskRef, TaskRecord] = {}
        """The records `clone_tasks` linked into a run, by task. A clone stays its task's latest attempt (it succeeded,
        and nothing runs the task again), so a task forked from the scheduler that holds this store (a join over a
        resumed foreach) reads its inputs from here instead of listing and parsing their files again."""

    # -- artifacts ---------------------------------------------------------------------------------------------
    def put_artifact(self, value: Any) -> ArtifactRef:
        return self.blobs.put(value)

    def load_artifact(self, ref: ArtifactRef, *, artifact: str, task: object) -> Any:
        """Load artifact ``artifact`` for ``task`` (whatever names the task reading it), verified against its blob's
        name; a missing or corrupt blob is one :class:`DataStoreError` naming the artifact, the task and the blob."""
        try:
            return self.blobs.load(ref.sha256)
        except DataStoreError as error:
            raise DataStoreError(f"artifact {artifact!r} of task {task}: {error}") from None

    # -- paths -------------------------------------------------------------------------------------------------
    # Every name becomes one path component, checked here so that no caller can reach outside the datastore.
    def flow_dir(self, flow: str) -> Path:
        return self.root / "runs" / checked_name("flow name", flow)

    def run_dir(self, flow: str, run_id: str) -> Path:
        return self.flow_dir(flow) / checked_name("run id", run_id)

    def step_dir(self, flow: str, run_id: str, step: str) -> Path:
        key = (flow, run_id, step)
        path = self._step_dirs.get(key)
        if path is None:
            path = self._step_dirs[key] = self.run_dir(flow, run_id) / checked_name("step name", step)
        return path

    def task_dir(self, coords: TaskRef) -> Path:
        return self.step_dir(coords.flow, coords.run_id, coords.step) / coords.task_id

    def _task_dir_text(self, coords: TaskRef) -> str:
        """`task_dir` as text, for the paths read or linked for every task of a wide foreach: pathlib's joins cost
        more than the system calls on the paths they make."""
        return f"{self.step_dir(coords.flow, coords.run_id, coords.step)}{os.sep}{coords.task_id}"

    def record_path(self, coords: TaskRef, attempt: int) -> Path:
        return self.task_dir(coords) / f"{attempt}.json"

    def log_path(self, coords: TaskRef, attempt: int, stream: LogStream) -> Path:
        return self.task_dir(coords) / f"{attempt}.{stream}"

    # -- runs --------------------------------------------------------------------------------------------------
    def write_run(self, record: RunRecord) -> bool:
        """Write ``run.json`` unless it exists (a retried start task keeps the first one); returns whether written."""
        path = self.run_dir(record.flow, record.run_id) / "run.json"
        if path.exists():
            return False
        return write_file_atomically(path, record.to_json(indent=1).encode(), replace=False)

    def read_run(self, flow: str, run_id: str) -> RunRecord | None:
        path = self.run_dir(flow, run_id) / "run.json"
        try:
            with storage_errors("read", path):
                return RunRecord.from_json(path.read_bytes())
        except FileNotFoundError:
            return None

    def list_flows(self) -> list[str]:
        return _visible_entries(self.root / "runs")

    def list_runs(self, flow: str) -> list[str]:
        """Run ids of ``flow``, newest first (by the run record's creation time, else the directory's)."""

        def created(run_id: str) -> float:
            record = self.read_run(flow, run_id)
            if record is not None:
                return record.created_at.timestamp()
            return self.run_dir(flow, run_id).stat().st_mtime

        return sorted(_visible_entries(self.flow_dir(flow)), key=created, reverse=True)

    def list_steps(self, flow: str, run_id: str) -> list[str]:
        """Step names of a run (its other entries, run.json and the tag directory, are not identifiers)."""
        return [name for name in _visible_entries(self.run_dir(flow, run_id)) if name.isidentifier()]

    def list_task_ids(self, flow: str, run_id: str, step: str) -> list[str]:
        """Task ids of a step, in index-path order (``0.2`` before ``0.10``)."""
        ids = _visible_entries(self.step_dir(flow, run_id, step))
        return sorted(ids, key=lambda task_id: [int(part) for part in task_id.split(".")])

    # -- commit records ----------------------------------------------------------------------------------------
    def commit(self, record: TaskRecord) -> Path:
        """Publish a task attempt's record; this is the moment the attempt becomes visible to readers.

        Create-once: a second commit of the same attempt (a process the step forked carrying on after its parent
        committed, a scheduler recording a death the task outlived) raises :class:`AlreadyCommittedError` and
        leaves the first record exactly as readers saw it.
        """
        path = self.record_path(record.coordinates, record.attempt)
        if not write_file_atomically(path, record.to_json().encode(), replace=False):
            raise AlreadyCommittedError(
                f"task {record.coordinates} attempt {record.attempt} is already committed in {self.root}; "
                "a commit record is never replaced"
            )
        return path

    def list_attempts(self, coords: TaskRef) -> list[int]:
        """Committed attempts of a task, ascending."""
        return _attempt_numbers(_visible_entries(self.task_dir(coords)))

    def read_record(self, coords: TaskRef, attempt: int) -> TaskRecord:
        record = self.committed_record(coords, attempt)
        if record is None:
            raise DataStoreError(f"task {coords} has no committed attempt {attempt} in {self.root}")
        return record

    def committed_record(self, coords: TaskRef, attempt: int) -> TaskRecord | None:
        """Attempt ``attempt``'s record if it was committed, else None (a reader that knows which attempt it wants)."""
        return self._record_at(coords, self.record_path(coords, attempt))

    def latest_record(self, coords: TaskRef) -> TaskRecord | None:
        """The latest committed attempt of a task (succeeded or failed), or None if none committed.

        A resume asks this of every task of its origin run and a join of every input, so the task's directory is
        joined once and the record read by its plain path (or not at all, for a task this store cloned).
        """
        clone = self._clones.get(coords)
        if clone is not None:
            return clone
        task_dir = self._task_dir_text(coords)
        attempts = _attempt_numbers(_visible_entries(task_dir))
        if not attempts:
            return None
        record = self._record_at(coords, f"{task_dir}{os.sep}{attempts[-1]}.json")
        if record is None:  # listed, then deleted (gc took the run away meanwhile)
            raise DataStoreError(f"task {coords} has no committed attempt {attempts[-1]} in {self.root}")
        return record

    def _record_at(self, coords: TaskRef, path: str | Path) -> TaskRecord | None:
        """The commit record at ``path`` as task ``coords`` of its run sees it, or None if there is none."""
        try:
            with storage_errors("read", path), open(path, "rb", buffering=0) as file:  # unbuffered: one readall()
                record = TaskRecord.from_json(file.read())
        except FileNotFoundError:
            return None
        if record.run_id != coords.run_id:  # a resume's clone: the origin's record, linked into this run
            # Set on the record just parsed, which nothing else holds yet (cheaper than `replace`).
            record.origin_run_id = record.origin_run_id or record.run_id
            record.run_id = coords.run_id
        return record

    def successful_record(self, coords: TaskRef) -> TaskRecord:
        """The record a downstream task reads: the latest attempt, which must have succeeded."""
        record = self.latest_record(coords)
        if record is None or not record.succeeded:
            state = "has not committed" if record is None else f"failed (attempt {record.attempt})"
            raise DataStoreError(f"task {coords} {state}; its artifacts are not available in {self.root}")
        return record

    def clone_task(self, record: TaskRecord, run_id: str) -> TaskRecord:
        """Reuse one committed task in another run (resume); see `clone_tasks`."""
        return self.clone_tasks([record], run_id)[0]

    def clone_tasks(self, records: Iterable[TaskRecord], run_id: str) -> list[TaskRecord]:
        """Reuse committed tasks in another run (resume): each origin's record and logs, hard-linked into the run.

        A link writes no data, so there is nothing to fsync: the bytes are the origin's, already durable, and the
        link appears whole or not at all, as a renamed file does. A reader of the new run sees the record with its
        own run id and ``origin_run_id`` set (`committed_record`). Cloning the 199 succeeded tasks of a 200-task
        foreach therefore costs directory entries, not 199 fsynced writes. Where the filesystem has no hard
        links, the bytes are copied (written and fsynced) instead. Create-once, like `commit`.

        Each origin run is marked in use once, before any of its tasks is linked (see `_mark_origin_in_use`).
        """
        records = list(records)
        first_of_each_origin = {(record.flow, record.run_id): record for record in reversed(records)}
        for record in first_of_each_origin.values():
            self._mark_origin_in_use(record.coordinates)
        return [self._link_clone(record, run_id) for record in records]

    def _link_clone(self, record: TaskRecord, run_id: str) -> TaskRecord:
        clone = replace(record, run_id=run_id, origin_run_id=record.origin_run_id or record.run_id)
        origin, target, attempt = record.coordinates, clone.coordinates, record.attempt
        origin_dir, target_dir = self._task_dir_text(origin), self._task_dir_text(target)
        ensure_dir(target_dir)
        source_prefix, target_prefix = f"{origin_dir}{os.sep}{attempt}.", f"{target_dir}{os.sep}{attempt}."
        for stream in ("out", "err"):
            try:  # one link() rather than a stat() first: an empty stream left no log to link
                link_file(source_prefix + stream, target_prefix + stream)
            except FileNotFoundError:
                continue
        try:
            linked = link_file(source_prefix + "json", target_prefix + "json")
        except FileNotFoundError:
            raise self._origin_gone(origin) from None
        if not linked:
            raise AlreadyCommittedError(f"task {target} attempt {attempt} is already committed in {self.root}")
        self._clones[target] = clone
        return clone

    def _mark_origin_in_use(self, origin: TaskRef) -> None:
        """Touch the origin run's directory before linking from it: `flowkit.datastore.gc` keeps a run changed within
        its grace period (hours, where a batch of clones takes milliseconds), and re-checks this time after taking a
        run away, so an old origin is not deleted under a resume that clones from it. An origin already deleted is
        one error, before anything is linked."""
        run_dir = self.run_dir(origin.flow, origin.run_id)
        try:
            with storage_errors("mark in use", run_dir):
                os.utime(run_dir)
        except FileNotFoundError:
            raise self._origin_gone(origin) from None

    def _origin_gone(self, origin: TaskRef) -> DataStoreError:
        """The error of a clone whose origin run is gone (gc deleted it, or is taking it away right now)."""
        return DataStoreError(
            f"cannot reuse task {origin}: its origin run {origin.flow}/{origin.run_id} no longer exists in "
            f"{self.root} (garbage collection deleted it); resume another run or run the flow again"
        )

    # -- abandoned writes ----------------------------------------------------------------------------------------
    def sweep_abandoned_writes(self, flow: str, run_ids: Iterable[str] = ()) -> Swept:
        """Remove temporary files of dead writers where a killed run leaves them: the blobs, and the records and logs
        of ``run_ids`` (the run a resume continues) and of ``flow``'s runs that never recorded themselves (stopped
        before their start task ran, no resume will ever continue them). ``gc`` sweeps the whole datastore."""
        from flowkit.datastore.sweep import sweep_temporary_files  # a resume's, not a task's: pods start without it

        flow_dir = self.flow_dir(flow)
        unrecorded = [
            flow_dir / name for name in _visible_entries(flow_dir) if not (flow_dir / name / "run.json").exists()
        ]
        runs = [*(self.run_dir(flow, run_id) for run_id in run_ids), *unrecorded]
        return sweep_temporary_files([self.blobs.directory]) + sweep_temporary_files(runs, recursive=True)

    # -- captured output ---------------------------------------------------------------------------------------
    def log_writer(self, coords: TaskRef, attempt: int, stream: LogStream, *, timestamped: bool = False) -> LogWriter:
        """A writer of one captured stream; ``timestamped``: each stored line starts with the time it was read."""
        return LogWriter(self.log_path(coords, attempt, stream), timestamped=timestamped)

    def log_writers(self, coords: TaskRef, attempt: int) -> dict[str, LogWriter]:
        """Writers of both captured streams ("out", "err"), for a scheduler that starts a task."""
        return {stream: self.log_writer(coords, attempt, stream) for stream in ("out", "err")}

    def read_log(self, coords: TaskRef, attempt: int, stream: LogStream) -> str:
        try:
            return self.log_path(coords, attempt, stream).read_text(errors="replace")
        except FileNotFoundError:
            return ""


def _attempt_numbers(names: list[str]) -> list[int]:
    """The committed attempts among a task directory's entries, ascending."""
    return sorted(int(name[: -len(".json")]) for name in names if name.endswith(".json"))


def _visible_entries(directory: str | Path) -> list[str]:
    """Directory entries minus unfinished temporary files; a missing directory is empty."""
    try:
        with storage_errors("list", directory):
            names = os.listdir(directory)
    except FileNotFoundError:
        return []
    return sorted(name for name in names if not is_temp_name(name))
