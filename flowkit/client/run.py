"""A run as the client shows it: its record, steps, tags, parameters, code and end artifacts.

Apart from `flowkit.client.objects` because a run is also where tags are changed and the code package is found;
like the step and task views, it reads only committed records, so it serves finished and running runs alike.
"""

from __future__ import annotations

import builtins
import json
from collections.abc import Iterable, Iterator
from datetime import datetime
from typing import TYPE_CHECKING, Any

from flowkit.client.objects import ArtifactData, RootArg, Step, Task, local_time, newest_first, split_pathspec
from flowkit.datastore import DataStore, RunRecord
from flowkit.datastore.tags import RunTags, validate_tag
from flowkit.errors import DataStoreError

if TYPE_CHECKING:
    from flowkit.client.code import RunCode
    from flowkit.client.flows import Flow


class Run:
    """One run of a flow: ``Run("MyFlow/<run_id>")``, ``Run.latest("MyFlow")``, ``Run.list("MyFlow")``."""

    def __init__(self, pathspec: str, *, datastore_root: RootArg = None) -> None:
        self.flow_name, self.id = split_pathspec(pathspec, 2, "Flow/run_id")
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
        """When the run started (naive local time, as Metaflow's client returns times)."""
        record = self.record
        return local_time(record.created_at) if record is not None else None

    @property
    def finished_at(self) -> datetime | None:
        """When the end step finished; None while it has not (Metaflow's definition, failed runs included)."""
        end = self.end_task
        return end.finished_at if end is not None and end.successful else None

    # -- tags ---------------------------------------------------------------------------------------------------
    @property
    def user_tags(self) -> frozenset[str]:
        """Tags given with ``run --tag`` or added since; they can be removed."""
        return RunTags(self._store.run_dir(self.flow_name, self.id)).user_tags(self.record)

    @property
    def system_tags(self) -> frozenset[str]:
        """``user:NAME`` and, for a `@project` flow, ``project:`` and ``project_branch:`` tags; they stay."""
        record = self.record
        return frozenset(record.system_tags if record is not None else ())

    @property
    def tags(self) -> frozenset[str]:
        return self.user_tags | self.system_tags

    def add_tag(self, tag: str) -> None:
        self.add_tags([tag])

    def add_tags(self, tags: Iterable[str]) -> None:
        store = RunTags(self._store.run_dir(self.flow_name, self.id))
        for tag in [validate_tag(tag) for tag in tags]:
            store.set(tag, present=True)

    def remove_tag(self, tag: str) -> None:
        self.remove_tags([tag])

    def remove_tags(self, tags: Iterable[str]) -> None:
        """Remove user tags; removing a system tag is an error (nothing is removed then)."""
        chosen = [validate_tag(tag) for tag in tags]
        system = sorted(set(chosen) & self.system_tags)
        if system:
            raise DataStoreError(f"{self.pathspec}: system tags cannot be removed: {', '.join(system)}")
        store = RunTags(self._store.run_dir(self.flow_name, self.id))
        for tag in chosen:
            store.set(tag, present=False)

    def replace_tag(self, tag_to_remove: str, tag_to_add: str) -> None:
        self.replace_tags([tag_to_remove], [tag_to_add])

    def replace_tags(self, tags_to_remove: Iterable[str], tags_to_add: Iterable[str]) -> None:
        self.remove_tags(tags_to_remove)
        self.add_tags(tags_to_add)

    # -- relations ----------------------------------------------------------------------------------------------
    @property
    def parent(self) -> Flow:
        """The flow's client object (``run.parent.latest_run``)."""
        from flowkit.client.flows import Flow

        return Flow(self.flow_name, datastore_root=self._store.root)

    @property
    def code(self) -> RunCode | None:
        """The code package the run executed; None for a local run, which runs the working tree itself."""
        from flowkit.client.code import RunCode

        record = self.record
        return RunCode.of_run(self._store, record.code_package_id if record else None, self.flow_name)

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
        """The run's steps, newest first (``end`` before ``start``), as Metaflow lists them."""
        return list(self)

    def __getitem__(self, step: str) -> Step:
        """The step named ``step`` (one not started yet has no tasks); a KeyError if the run's flow has no such step,
        as Metaflow's client raises."""
        try:
            return Step(f"{self.pathspec}/{step}", datastore_root=self._store.root)
        except DataStoreError as error:
            raise KeyError(str(error)) from None

    def __iter__(self) -> Iterator[Step]:
        """Steps newest first (by their first task's start), as Metaflow iterates them."""
        names = self._store.list_steps(self.flow_name, self.id)
        steps = [Step(f"{self.pathspec}/{name}", datastore_root=self._store.root) for name in names]
        return iter(sorted(steps, key=newest_first))

    def __contains__(self, step: str) -> bool:
        return step in self._store.list_steps(self.flow_name, self.id)

    def _repr_html_(self) -> str:
        """Jupyter's rich display: status, the DAG and tasks."""
        from flowkit.ui.notebook import run_html

        return run_html(self)

    def __repr__(self) -> str:
        return f"Run('{self.pathspec}')"
