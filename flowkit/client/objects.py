"""Read-only views of runs, steps and tasks in a datastore, for notebooks, scripts and tests.

They read only committed records and blobs, so they work on a finished run, on a run still in progress (seeing
what has committed so far), and on any root: a local ``.flowkit`` directory or a PVC mounted from a cluster. No
flow class is needed: parameters are decoded from run.json's JSON text, artifacts from their blobs.
"""

from __future__ import annotations

import builtins
import json
import os
from collections.abc import Iterator
from datetime import datetime
from typing import Any

from flowkit.datastore import DataStore, RunRecord, TaskCoordinates, TaskRecord, index_path_of_task_id
from flowkit.datastore.identity import checked_name, checked_task_id
from flowkit.errors import DataStoreError, ExceptionWrapper

RootArg = str | os.PathLike[str] | None


class ArtifactData:
    """Artifacts of one task as attributes (``task.data.accuracy``), each loaded on first access."""

    def __init__(self, store: DataStore, record: TaskRecord | None) -> None:
        self._store = store
        self._refs = record.artifacts if record is not None else {}
        self._where = f"{record.flow}/{record.run_id}/{record.step}/{record.task_id}" if record else "this task"

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        ref = self._refs.get(name)
        if ref is None:
            raise AttributeError(f"{self._where} has no artifact {name!r} (it has: {', '.join(sorted(self._refs))})")
        value = self._store.load_artifact(ref, artifact=name, task=self._where)
        self.__dict__[name] = value
        return value

    def __contains__(self, name: str) -> bool:
        return name in self._refs

    def __iter__(self) -> Iterator[str]:
        return iter(sorted(self._refs))

    def __dir__(self) -> list[str]:
        return sorted(self._refs)


class Task:
    """One task, seen through its latest committed attempt (or a given one)."""

    def __init__(self, pathspec: str, *, datastore_root: RootArg = None, attempt: int | None = None) -> None:
        flow, run_id, step, task_id = _split(pathspec, 4, "Flow/run_id/step/task_id")
        checked_task_id(task_id)
        if attempt is not None and (not isinstance(attempt, int) or isinstance(attempt, bool)):
            raise TypeError(f"attempt must be an int, got {type(attempt).__name__} {attempt!r}")
        if attempt is not None and attempt < 0:
            raise ValueError(f"attempt must be >= 0, got {attempt}")
        self._store = DataStore(datastore_root)
        self.coordinates = TaskCoordinates(flow, run_id, step, index_path_of_task_id(task_id))
        self.pathspec = pathspec
        self.id = task_id
        if attempt is None:
            self.metadata: TaskRecord | None = self._store.latest_record(self.coordinates)
        else:
            self.metadata = self._store.read_record(self.coordinates, attempt)
        if self.metadata is None and not self._store.task_dir(self.coordinates).is_dir():
            raise DataStoreError(f"task {pathspec} not found in {self._store.root}")

    @property
    def status(self) -> str:
        """``succeeded``, ``failed``, or ``running`` while no attempt has committed."""
        return self.metadata.status if self.metadata is not None else "running"

    @property
    def successful(self) -> bool:
        return self.metadata is not None and self.metadata.succeeded

    @property
    def finished(self) -> bool:
        """Committed and final: succeeded, or failed on its last allowed attempt."""
        return self.metadata is not None and (self.metadata.succeeded or _is_final_failure(self.metadata))

    @property
    def attempt(self) -> int | None:
        return self.metadata.attempt if self.metadata is not None else None

    @property
    def index_path(self) -> tuple[int, ...]:
        return self.coordinates.index_path

    @property
    def data(self) -> ArtifactData:
        return ArtifactData(self._store, self.metadata)

    @property
    def exception(self) -> ExceptionWrapper | None:
        """Why the task failed, as Metaflow reports it: ``.type``, ``.exception`` (the message), ``.stacktrace``.

        None while the task runs and once it succeeded, a ``@catch`` that caught a failure included (the caught
        exception is the step's catch var).
        """
        if self.metadata is None or self.metadata.succeeded or self.metadata.error is None:
            return None
        error = self.metadata.error
        return ExceptionWrapper(error.qualified_type, error.message, error.traceback or None)

    @property
    def stdout(self) -> str:
        return self._log("out")

    @property
    def stderr(self) -> str:
        return self._log("err")

    def _log(self, stream: str) -> str:
        attempt = self.attempt if self.attempt is not None else 0
        return self._store.read_log(self.coordinates, attempt, stream)  # type: ignore[arg-type]

    def _repr_html_(self) -> str:
        """Jupyter's rich display: status, the DAG with this step outlined and artifacts."""
        from flowkit.ui.notebook import task_html

        return task_html(self)

    def __repr__(self) -> str:
        return f"Task('{self.pathspec}', status={self.status!r})"


class Step:
    """One step of a run and its tasks (one per foreach position)."""

    def __init__(self, pathspec: str, *, datastore_root: RootArg = None) -> None:
        self.flow_name, self.run_id, self.name = _split(pathspec, 3, "Flow/run_id/step")
        self.pathspec = pathspec
        self._store = DataStore(datastore_root)

    @property
    def tasks(self) -> list[Task]:
        """Tasks in index-path order."""
        return [self[task_id] for task_id in self._store.list_task_ids(self.flow_name, self.run_id, self.name)]

    @property
    def task(self) -> Task:
        """The step's only task (steps outside a foreach have exactly one)."""
        tasks = self.tasks
        if len(tasks) != 1:
            raise DataStoreError(f"{self.pathspec} has {len(tasks)} tasks; use .tasks")
        return tasks[0]

    def __getitem__(self, task_id: str) -> Task:
        return Task(f"{self.pathspec}/{task_id}", datastore_root=self._store.root)

    def __iter__(self) -> Iterator[Task]:
        return iter(self.tasks)

    def _repr_html_(self) -> str:
        """Jupyter's rich display: status, the DAG with this step outlined and tasks."""
        from flowkit.ui.notebook import step_html

        return step_html(self)

    def __repr__(self) -> str:
        return f"Step('{self.pathspec}')"


class Run:
    """One run of a flow: ``Run("MyFlow/<run_id>")``, ``Run.latest("MyFlow")``, ``Run.list("MyFlow")``."""

    def __init__(self, pathspec: str, *, datastore_root: RootArg = None) -> None:
        self.flow_name, self.id = _split(pathspec, 2, "Flow/run_id")
        self.pathspec = pathspec
        self._store = DataStore(datastore_root)
        if not self._store.run_dir(self.flow_name, self.id).is_dir():
            raise DataStoreError(f"run {pathspec} not found in {self._store.root}")

    @classmethod
    def list(cls, flow_name: str, *, datastore_root: RootArg = None) -> list[Run]:
        """Runs of a flow, newest first."""
        store = DataStore(datastore_root)
        return [cls(f"{flow_name}/{run_id}", datastore_root=store.root) for run_id in store.list_runs(flow_name)]

    @classmethod
    def latest(cls, flow_name: str, *, datastore_root: RootArg = None) -> Run:
        runs = cls.list(flow_name, datastore_root=datastore_root)
        if not runs:
            raise DataStoreError(f"no runs of {flow_name} in {DataStore(datastore_root).root}")
        return runs[0]

    @property
    def record(self) -> RunRecord | None:
        """run.json: parameters, origin run (for a resume), code package and environment ids."""
        return self._store.read_run(self.flow_name, self.id)

    @property
    def created_at(self) -> datetime | None:
        record = self.record
        return record.created_at if record is not None else None

    @property
    def parameters(self) -> dict[str, Any]:
        record = self.record
        return {name: json.loads(text) for name, text in (record.parameters if record else {}).items()}

    @property
    def end_task(self) -> Task | None:
        record = self.record
        tasks = self[record.end_step if record is not None else "end"].tasks
        return tasks[0] if tasks else None

    @property
    def successful(self) -> bool:
        end = self.end_task
        return end is not None and end.successful

    @property
    def finished(self) -> bool:
        """The end step succeeded, or some task failed on its last allowed attempt (so end never will run)."""
        return self.successful or any(task.finished and not task.successful for step in self for task in step)

    @property
    def data(self) -> ArtifactData:
        """The artifacts of the end step."""
        end = self.end_task
        if end is None:
            raise DataStoreError(f"{self.pathspec} has no end task yet (status: see run.steps())")
        return end.data

    def steps(self) -> builtins.list[Step]:
        return list(self)

    def __getitem__(self, step: str) -> Step:
        return Step(f"{self.pathspec}/{step}", datastore_root=self._store.root)

    def __iter__(self) -> Iterator[Step]:
        return iter(self[name] for name in self._store.list_steps(self.flow_name, self.id))

    def __contains__(self, step: str) -> bool:
        return step in self._store.list_steps(self.flow_name, self.id)

    def _repr_html_(self) -> str:
        """Jupyter's rich display: status, the DAG and tasks."""
        from flowkit.ui.notebook import run_html

        return run_html(self)

    def __repr__(self) -> str:
        return f"Run('{self.pathspec}')"


def _is_final_failure(record: TaskRecord) -> bool:
    retries = ((record.spec or {}).get("retry") or {}).get("times", 0)
    return not record.succeeded and record.attempt >= retries


def _split(pathspec: str, parts: int, form: str) -> list[str]:
    """The pathspec's parts: flow name, run id and step name each checked to be one safe path component."""
    if not isinstance(pathspec, str):
        raise TypeError(f"pathspec must be a string like '{form}', got {type(pathspec).__name__} {pathspec!r}")
    pieces = pathspec.strip("/").split("/")
    if len(pieces) != parts or not all(pieces):
        raise ValueError(f"pathspec must look like '{form}', got {pathspec!r}")
    for what, piece in zip(("flow name", "run id", "step name"), pieces, strict=False):
        checked_name(what, piece)
    return pieces
