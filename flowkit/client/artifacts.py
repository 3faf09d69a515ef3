"""One artifact as an object (Metaflow's ``DataArtifact``): ``task["model"].data``, its hash, size and task."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from functools import cached_property
from typing import TYPE_CHECKING, Any

from flowkit.datastore import ArtifactRef, DataStore

if TYPE_CHECKING:
    from flowkit.client.objects import Task


class DataArtifact:
    """An artifact of a task; its value is loaded on the first read of ``.data``."""

    def __init__(self, task: Task, name: str, ref: ArtifactRef, store: DataStore) -> None:
        self.id = name
        self.pathspec = f"{task.pathspec}/{name}"
        self.sha = ref.sha256
        self.size = ref.size
        self.type = ref.type
        self.created_at: datetime | None = task.finished_at
        self._task = task
        self._ref = ref
        self._store = store

    @cached_property
    def data(self) -> Any:
        return self._store.load_artifact(self._ref, artifact=self.id, task=self._task.pathspec)

    @property
    def parent(self) -> Task:
        return self._task

    def __repr__(self) -> str:
        return f"DataArtifact('{self.pathspec}')"


class TaskArtifacts:
    """A task's artifacts as `DataArtifact` attributes (``task.artifacts.model.data``), Metaflow's ``artifacts``."""

    def __init__(self, artifacts: dict[str, DataArtifact]) -> None:
        self._artifacts = artifacts

    def __getattr__(self, name: str) -> DataArtifact:
        if name.startswith("_"):
            raise AttributeError(name)
        try:
            return self._artifacts[name]
        except KeyError:
            raise AttributeError(f"no artifact {name!r} (artifacts: {', '.join(sorted(self._artifacts))})") from None

    def __iter__(self) -> Iterator[DataArtifact]:
        return iter(self._artifacts[name] for name in sorted(self._artifacts))

    def __contains__(self, name: str) -> bool:
        return name in self._artifacts

    def __len__(self) -> int:
        return len(self._artifacts)

    def __dir__(self) -> list[str]:
        return sorted(self._artifacts)
