"""Read-only views of the steps and tasks of a run in a datastore (the run itself is `flowkit.client.run`).

They read only committed records and blobs, so they work on a finished run, on a run still in progress (seeing
what has committed so far), and on any root: a local ``.flowkit`` directory or a PVC mounted from a cluster. No
flow class is needed: parameters are decoded from run.json's JSON text, artifacts from their blobs.
"""

from __future__ import annotations

import builtins
import os
from collections.abc import Iterator
from datetime import datetime
from typing import TYPE_CHECKING, Any

from flowkit.client.artifacts import DataArtifact, TaskArtifacts
from flowkit.datastore import DataStore, RunRecord, TaskRecord
from flowkit.errors import DataStoreError, ExceptionWrapper, PathspecError
from flowkit.identity import TaskRef, checked_name, checked_task_id, index_path_of_task_id

if TYPE_CHECKING:
    from flowkit.client.run import Run

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
        flow, run_id, step, task_id = split_pathspec(pathspec, 4, "Flow/run_id/step/task_id")
        try:
            checked_task_id(task_id)
        except ValueError as error:
            raise PathspecError(f"{pathspec}: {error}") from None
        if attempt is not None and (not isinstance(attempt, int) or isinstance(attempt, bool)):
            raise TypeError(f"attempt must be an int, got {type(attempt).__name__} {attempt!r}")
        if attempt is not None and attempt < 0:
            raise ValueError(f"attempt must be >= 0, got {attempt}")
        self._store = DataStore(datastore_root)
        self.coordinates = TaskRef(flow, run_id, step, index_path_of_task_id(task_id))
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
    def index(self) -> int | None:
        """The task's position in its innermost foreach (Metaflow's ``task.index``); None outside a foreach."""
        return self.coordinates.index_path[-1] if self.coordinates.index_path else None

    @property
    def data(self) -> ArtifactData:
        return ArtifactData(self._store, self.metadata)

    @property
    def artifacts(self) -> TaskArtifacts:
        """Every artifact as a `DataArtifact` (``task.artifacts.model.sha``)."""
        refs = self.metadata.artifacts if self.metadata is not None else {}
        return TaskArtifacts({name: DataArtifact(self, name, ref, self._store) for name, ref in refs.items()})

    def __getitem__(self, name: str) -> DataArtifact:
        """``task["model"]``: the artifact as a `DataArtifact` (its value is ``.data``), as in Metaflow."""
        refs = self.metadata.artifacts if self.metadata is not None else {}
        if name not in refs:
            raise KeyError(f"{self.pathspec} has no artifact {name!r} (it has: {', '.join(sorted(refs))})")
        return DataArtifact(self, name, refs[name], self._store)

    def __contains__(self, name: str) -> bool:
        return self.metadata is not None and name in self.metadata.artifacts

    def __iter__(self) -> Iterator[DataArtifact]:
        return iter(self.artifacts)

    @property
    def created_at(self) -> datetime | None:
        """When the task's first attempt started (naive local time, as Metaflow's client returns times)."""
        first = self._store.committed_record(self.coordinates, 0) or self.metadata
        return None if first is None else local_time(first.started_at)

    @property
    def finished_at(self) -> datetime | None:
        """When the latest attempt ended; None while no attempt has committed."""
        return None if self.metadata is None else local_time(self.metadata.finished_at)

    @property
    def metadata_dict(self) -> dict[str, str]:
        """The task's metadata as Metaflow's ``metadata_dict`` gives it: names to text values."""
        record = self.metadata
        if record is None:
            return {}
        run = self._store.read_run(record.flow, record.run_id)
        entries = {
            "attempt": str(record.attempt),
            "attempt_ok": str(record.succeeded),
            "exit_code": None if record.exit_code is None else str(record.exit_code),
            "origin-run-id": record.origin_run_id,
            "code-package-id": record.code_package_id,
            "environment-id": record.environment_id,
            "runtime": run.scheduler if run is not None else None,
            "user": _user_of(run),
            "ds-type": "local",
            "ds-root": str(self._store.root),
        }
        return {name: value for name, value in entries.items() if value is not None}

    @property
    def parent(self) -> Step:
        coords = self.coordinates
        return Step(f"{coords.flow}/{coords.run_id}/{coords.step}", datastore_root=self._store.root)

    @property
    def tags(self) -> frozenset[str]:
        """The run's tags (in Metaflow a task carries its run's)."""
        return self.parent.tags

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
        self.flow_name, self.run_id, self.name = split_pathspec(pathspec, 3, "Flow/run_id/step")
        self.pathspec = pathspec
        self._store = DataStore(datastore_root)
        if not self._store.step_dir(self.flow_name, self.run_id, self.name).is_dir():
            self._check_planned()

    def _check_planned(self) -> None:
        """A step that has not started yet is a step with no tasks; a name the run's flow does not have is an error
        (Metaflow's not-found) rather than an empty step, so a typo is not read as "nothing ran"."""
        if not self._store.run_dir(self.flow_name, self.run_id).is_dir():
            raise DataStoreError(f"run {self.flow_name}/{self.run_id} not found in {self._store.root}")
        record = self._store.read_run(self.flow_name, self.run_id)
        planned = [step["name"] for step in record.graph["steps"]] if record is not None and record.graph else None
        if planned is not None and self.name not in planned:
            raise DataStoreError(f"step {self.pathspec} not found: the run's steps are {', '.join(planned)}")

    @property
    def id(self) -> str:
        """The step's name (Metaflow's ``step.id``)."""
        return self.name

    @property
    def tasks(self) -> TaskList:
        """Tasks in index-path order; ``step.tasks()`` (Metaflow's spelling) iterates them newest first."""
        return TaskList(self[task_id] for task_id in self._store.list_task_ids(self.flow_name, self.run_id, self.name))

    @property
    def created_at(self) -> datetime | None:
        """When the step's first task started; None before any task committed."""
        starts = [task.created_at for task in self.tasks]
        return min((start for start in starts if start is not None), default=None)

    @property
    def finished_at(self) -> datetime | None:
        """When the step's last task ended; None before any task committed."""
        ends = [task.finished_at for task in self.tasks]
        return max((end for end in ends if end is not None), default=None)

    @property
    def parent(self) -> Run:
        from flowkit.client.run import Run

        return Run(f"{self.flow_name}/{self.run_id}", datastore_root=self._store.root)

    @property
    def tags(self) -> frozenset[str]:
        return self.parent.tags

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
        """Tasks newest first, as Metaflow iterates them (``step.tasks`` keeps index-path order)."""
        return self.tasks()

    def _repr_html_(self) -> str:
        """Jupyter's rich display: status, the DAG with this step outlined and tasks."""
        from flowkit.ui.notebook import step_html

        return step_html(self)

    def __repr__(self) -> str:
        return f"Step('{self.pathspec}')"


class TaskList(builtins.list[Task]):
    """A step's tasks in index-path order (flowkit's ``step.tasks``) that Metaflow's ``step.tasks()`` can also call."""

    def __call__(self, *tags: str) -> Iterator[Task]:
        """The tasks newest first; with tags, only if the run carries every one of them (tasks share its tags)."""
        if tags and self and not set(tags) <= self[0].tags:
            return iter(())
        return iter(sorted(self, key=newest_first))


def local_time(moment: datetime) -> datetime:
    """A recorded (UTC) time as Metaflow's client returns times: naive, in this machine's local time."""
    return moment.astimezone().replace(tzinfo=None)


def newest_first(item: Task | Step) -> tuple[bool, float]:
    """Sort key: not-yet-started items first (they are the newest), then by start time, latest first."""
    started = item.created_at
    return (started is not None, -started.timestamp() if started is not None else 0.0)


def _user_of(run: RunRecord | None) -> str | None:
    users = [tag.removeprefix("user:") for tag in (run.system_tags if run else []) if tag.startswith("user:")]
    return users[0] if users else None


def _is_final_failure(record: TaskRecord) -> bool:
    retries = ((record.spec or {}).get("retry") or {}).get("times", 0)
    return not record.succeeded and record.attempt >= retries


def split_pathspec(pathspec: str, parts: int, form: str) -> list[str]:
    """The pathspec's parts: flow name, run id and step name each checked to be one safe path component."""
    if not isinstance(pathspec, str):
        raise TypeError(f"pathspec must be a string like '{form}', got {type(pathspec).__name__} {pathspec!r}")
    pieces = pathspec.strip("/").split("/")
    if len(pieces) != parts or not all(pieces):
        raise PathspecError(f"pathspec must look like '{form}', got {pathspec!r}")
    try:
        for what, piece in zip(("flow name", "run id", "step name"), pieces, strict=False):
            checked_name(what, piece)
    except ValueError as error:
        raise PathspecError(f"{pathspec}: {error}") from None
    return pieces
