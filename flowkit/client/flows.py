"""A flow's runs as a notebook asks for them (Metaflow's ``Flow("MovieStatsFlow").latest_successful_run``).

``Flow("Name")`` with a string is what ``from flowkit import Flow`` gives too: flowkit's `Flow` is the base class
flows subclass, and called with a flow's name it answers with this client object, as ``from metaflow import Flow``
would. Listings honour the current namespace (`flowkit.client.namespaces`); a run asked for by id is returned
whatever its namespace.
"""

from __future__ import annotations

import builtins
from collections.abc import Iterator
from datetime import datetime

from flowkit.client.namespaces import get_namespace
from flowkit.client.objects import RootArg
from flowkit.client.run import Run
from flowkit.datastore import DataStore
from flowkit.errors import DataStoreError
from flowkit.identity import checked_name


class Flow:
    """The runs of one flow in a datastore, newest first."""

    def __init__(self, name: str, *, datastore_root: RootArg = None) -> None:
        if not isinstance(name, str):
            raise TypeError(f"a flow name is a string such as 'MovieStatsFlow', got {type(name).__name__} {name!r}")
        checked_name("flow name", name)
        self._store = DataStore(datastore_root)
        if not self._store.flow_dir(name).is_dir():
            raise DataStoreError(f"flow {name} not found in {self._store.root}")
        self.id = self.name = self.pathspec = name

    def runs(self, *tags: str) -> Iterator[Run]:
        """Runs in the current namespace carrying every one of `tags`, newest first."""
        wanted = set(tags)
        space = get_namespace()
        if space is not None:
            wanted.add(space)
        for run_id in self._store.list_runs(self.name):
            run = Run(f"{self.name}/{run_id}", datastore_root=self._store.root)
            if wanted <= run.tags:
                yield run

    @property
    def latest_run(self) -> Run | None:
        """The newest run in the current namespace, finished or not; None if there is none."""
        return next(self.runs(), None)

    @property
    def latest_successful_run(self) -> Run | None:
        """The newest run in the current namespace whose end step succeeded; None if there is none."""
        return next((run for run in self.runs() if run.successful), None)

    @property
    def created_at(self) -> datetime | None:
        """When the flow's first run started."""
        runs = builtins.list(self.runs())
        return runs[-1].created_at if runs else None

    def __iter__(self) -> Iterator[Run]:
        return self.runs()

    def __getitem__(self, run_id: str) -> Run:
        """``Flow("Name")[run_id]``: one run by id, whatever the namespace."""
        return Run(f"{self.name}/{run_id}", datastore_root=self._store.root)

    def __contains__(self, run_id: str) -> bool:
        return self._store.run_dir(self.name, run_id).is_dir()

    def __repr__(self) -> str:
        return f"Flow('{self.name}')"


class Metaflow:
    """Every flow of the datastore (Metaflow's ``Metaflow().flows``)."""

    def __init__(self, *, datastore_root: RootArg = None) -> None:
        self._store = DataStore(datastore_root)

    @property
    def flows(self) -> builtins.list[Flow]:
        """Flows with at least one run in the current namespace, by name."""
        return builtins.list(self)

    def __iter__(self) -> Iterator[Flow]:
        for name in self._store.list_flows():
            flow = Flow(name, datastore_root=self._store.root)
            if flow.latest_run is not None:
                yield flow

    def __repr__(self) -> str:
        return "Metaflow()"
