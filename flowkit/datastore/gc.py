"""Garbage collection of a shared datastore: old runs, then every blob and extracted package no run refers to.

Nothing else ever deletes anything (blobs are shared by content between runs, so no run can remove its own), and a
datastore shared by a team only grows. `collect_garbage` works in three passes:

1. Runs created before the retention cutoff whose files have not changed for the grace period are taken away
   (renamed out of sight, see `_take_away`) and, at the end, deleted whole.
2. Every commit record and run record left is read (runs listed again, after step 1): the blobs and code packages
   they name are in use.
3. A blob or extracted package that nothing in use names, and that has not changed for the grace period, is
   deleted; so are the temporary files of dead writers anywhere in the datastore (`flowkit.datastore.sweep`).

It is safe while other runs write, without any lock: whatever a live run may still reference was written or touched
within the grace period. A task stores a blob before its commit record names it, and a blob that already exists is
touched when a task stores the same content again (`BlobStore.put`), so an unreferenced blob older than the grace
period cannot be claimed by a record being committed now. A resume links the records of its origin run, which may be
old, into its own run, and touches the origin first; step 1 honours that touch (`_take_away`). The grace period
must be longer than any task runs.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path

from flowkit.datastore.atomic import is_temp_name, storage_errors, temp_path_beside
from flowkit.datastore.store import DataStore
from flowkit.datastore.sweep import Swept, is_abandoned, sweep_temporary_files

EXTRACTED_PACKAGES_DIR = Path("packages") / "extracted"
"""Where pods unpack code packages by default (the bootstrap's cache on the datastore volume)."""


@dataclass
class GarbageReport:
    """What a collection deleted, or in a dry run would delete: names and bytes."""

    runs: list[str] = field(default_factory=list)
    """Pathspecs (``Flow/run_id``) of the runs deleted."""
    run_bytes: int = 0
    blobs: Swept = field(default_factory=Swept)
    packages: list[str] = field(default_factory=list)
    package_bytes: int = 0
    temporary_files: Swept = field(default_factory=Swept)

    @property
    def total_bytes(self) -> int:
        return self.run_bytes + self.blobs.bytes + self.package_bytes + self.temporary_files.bytes


def collect_garbage(
    store: DataStore,
    *,
    older_than: timedelta,
    grace: timedelta,
    dry_run: bool = False,
    now: datetime | None = None,
) -> GarbageReport:
    """Delete runs created more than ``older_than`` ago, then what no remaining run refers to (see the module)."""
    moment = now or datetime.now(timezone.utc)
    settled = (moment - grace).timestamp()
    report = GarbageReport()
    expired: list[Path] = []
    for flow in store.list_flows():
        for run_id in store.list_runs(flow):
            run_dir = store.run_dir(flow, run_id)
            size, newest = _size_and_newest(run_dir)
            if _created(store, flow, run_id, run_dir) >= moment - older_than or newest >= settled:
                continue
            taken = run_dir if dry_run else _take_away(run_dir, settled)
            if taken is not None:
                report.runs.append(f"{flow}/{run_id}")
                report.run_bytes += size
                expired.append(taken)
    # Listed again now that the expired runs are out of sight: a resume that linked an expired run's records into a
    # run started meanwhile did so before its origin was taken away, so that new run and what it names are seen.
    blobs_in_use, packages_in_use = _references([run for run in _run_dirs(store) if run not in expired])
    report.blobs = _delete_unreferenced_blobs(store, blobs_in_use, settled, dry_run)
    _delete_unreferenced_packages(store.root / EXTRACTED_PACKAGES_DIR, packages_in_use, settled, dry_run, report)
    if not dry_run:
        for taken in [*expired, *_abandoned_take_aways(store, moment.timestamp())]:
            shutil.rmtree(taken, ignore_errors=True)
    report.temporary_files = sweep_temporary_files([store.root], recursive=True, dry_run=dry_run)
    return report


def _take_away(run_dir: Path, settled: float) -> Path | None:
    """Rename an expired run to a hidden temporary name, where no reader or resume finds it any more; returns that
    name, or None if the run stays.

    A resume marks its origin in use (touches the run's directory) before each batch of clones. One that marked it
    after gc
    judged the run but before the rename shows here, and the run is put back; one that comes after the rename finds
    no origin and says so. Either way no clone links from a run whose blobs are judged unreferenced.
    """
    hidden = temp_path_beside(run_dir)
    with storage_errors("delete run", run_dir):
        try:
            os.rename(run_dir, hidden)
        except FileNotFoundError:  # another collection took it
            return None
        if hidden.stat().st_mtime >= settled:
            os.rename(hidden, run_dir)
            return None
    return hidden


def _abandoned_take_aways(store: DataStore, now: float) -> list[Path]:
    """Runs that a collection which died took away but never deleted (hidden, so nothing else would).

    Judged by the time of the take-away (the rename sets the directory's ctime; its mtime is the run's, old by
    definition), so that a collection still at work, which may yet put the run back, keeps it."""
    abandoned = []
    for flow in store.list_flows():
        for entry in _scan(store.flow_dir(flow)):
            if not (is_temp_name(entry.name) and entry.is_dir(follow_symlinks=False)):
                continue
            try:
                taken_at = entry.stat(follow_symlinks=False).st_ctime
            except FileNotFoundError:  # deleted meanwhile by the collection that took it
                continue
            if is_abandoned(entry.name, taken_at, now):
                abandoned.append(Path(entry.path))
    return abandoned


def _run_dirs(store: DataStore) -> list[Path]:
    return [store.run_dir(flow, run_id) for flow in store.list_flows() for run_id in store.list_runs(flow)]


def _created(store: DataStore, flow: str, run_id: str, run_dir: Path) -> datetime:
    record = store.read_run(flow, run_id)
    if record is not None:
        return record.created_at
    return datetime.fromtimestamp(run_dir.stat().st_mtime, timezone.utc)


def _scan(directory: Path) -> list[os.DirEntry[str]]:
    try:
        with os.scandir(directory) as listing:
            return list(listing)
    except (FileNotFoundError, NotADirectoryError):
        return []


def _files(directory: Path) -> Iterator[os.DirEntry[str]]:
    for entry in _scan(directory):
        if entry.is_dir(follow_symlinks=False):
            yield from _files(Path(entry.path))
        else:
            yield entry


def _size_and_newest(directory: Path) -> tuple[int, float]:
    """Bytes under ``directory`` and the newest modification time of it or anything under it."""
    size, newest = 0, directory.stat().st_mtime
    for entry in _files(directory):
        try:
            status = entry.stat(follow_symlinks=False)
        except FileNotFoundError:
            continue
        size += status.st_size
        newest = max(newest, status.st_mtime)
    return size, newest


def _references(run_dirs: list[Path]) -> tuple[set[str], set[str]]:
    """The blobs (sha256) and code packages (ids) that the commit records and run records under ``run_dirs`` name.

    Read as plain JSON, without building records: only two fields matter, and a record of any version has them.
    """
    blobs: set[str] = set()
    packages: set[str] = set()
    for run_dir in run_dirs:
        for entry in _files(run_dir):
            if not entry.name.endswith(".json") or is_temp_name(entry.name):
                continue
            try:
                data = json.loads(Path(entry.path).read_bytes())
            except (FileNotFoundError, ValueError):
                continue  # deleted meanwhile, or not a record (a card's data, say)
            if not isinstance(data, dict):
                continue
            if isinstance(data.get("code_package_id"), str):
                packages.add(data["code_package_id"])
            artifacts = data.get("artifacts")
            if isinstance(artifacts, dict):
                blobs.update(ref["sha256"] for ref in artifacts.values() if isinstance(ref, dict) and "sha256" in ref)
    return blobs, packages


def _delete_unreferenced_blobs(store: DataStore, in_use: set[str], settled: float, dry_run: bool) -> Swept:
    deleted = Swept()
    for entry in _files(store.blobs.directory):
        if is_temp_name(entry.name) or entry.name in in_use:
            continue
        try:
            status = entry.stat(follow_symlinks=False)
        except FileNotFoundError:
            continue
        if status.st_mtime >= settled or (not dry_run and not _unlink_if_unchanged(Path(entry.path), settled)):
            continue  # written or reused within the grace period: a live task may be about to commit it
        deleted.add(status.st_size)
    return deleted


def _unlink_if_unchanged(path: Path, settled: float) -> bool:
    """Unlink a blob unless a task stored it again since it was listed (it then has a fresh modification time)."""
    try:
        if path.stat().st_mtime >= settled:
            return False
        with storage_errors("delete blob", path):
            path.unlink()
    except FileNotFoundError:
        return False
    return True


def _delete_unreferenced_packages(
    cache: Path, in_use: set[str], settled: float, dry_run: bool, report: GarbageReport
) -> None:
    try:
        names = [name for name in os.listdir(cache) if not name.startswith(".")]
    except FileNotFoundError:
        return
    for name in sorted(names):
        path = cache / name
        if name in in_use or not path.is_dir():
            continue
        size, newest = _size_and_newest(path)
        if newest >= settled:
            continue
        report.packages.append(name)
        report.package_bytes += size
        if not dry_run:
            shutil.rmtree(path, ignore_errors=True)
