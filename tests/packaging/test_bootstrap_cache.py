"""The extraction cache when many pods share it: concurrent cold starts, untrusted trees, abandoned extractions."""

from __future__ import annotations

import ctypes
import hashlib
import json
import os
import subprocess
import sys
import time
import types
from collections.abc import Callable
from pathlib import Path

import pytest

from flowkit.packaging import PackageRef, Payload, bootstrap_script, build_package, publish_to_dir
from flowkit.packaging.bootstrap_script import READY_MARKER, BootstrapError, ensure_extracted
from tests.packaging.conftest import cache_entries

ImportFlow = Callable[..., type]

# One pod's cold start, reduced to the cache: wait for the start signal (so that every process extracts at the same
# moment), extract or reuse, then check that the tree it was handed is complete before printing it.
EXTRACTOR = """
import hashlib, json, os, sys, time
from flowkit.packaging import bootstrap_script
cache, package_id, archive, digest, go, extractions, locking = sys.argv[1:]

def counted_extract(*arguments):
    with open(extractions, "a") as log:
        log.write("extracting\\n")
    real_extract(*arguments)

real_extract, bootstrap_script.extract_archive = bootstrap_script.extract_archive, counted_extract
if locking == "no-locks":
    bootstrap_script.lock_extraction = lambda *arguments: None
while not os.path.exists(go):
    time.sleep(0.001)
target, entries = bootstrap_script.ensure_extracted(cache, package_id, archive, digest)
manifest = json.load(open(os.path.join(target, "manifest.json")))
for entry in manifest["files"]:
    data = open(os.path.join(target, entry["path"]), "rb").read()
    assert hashlib.sha256(data).hexdigest() == entry["sha256"], entry["path"]
print(json.dumps([target, entries]))
"""


@pytest.fixture
def archive(project: Path, import_flow: ImportFlow, tmp_path: Path) -> tuple[PackageRef, Path]:
    """A published package (its payload is never loaded here) and the path of its archive."""
    data = b"not loaded by these tests"
    root = tmp_path / "datastore"
    ref = publish_to_dir(
        build_package(import_flow(project), project), Payload(data, hashlib.sha256(data).hexdigest()), root
    )
    return ref, root / ref.archive_path


@pytest.mark.parametrize("locking", ["locks", "no-locks"])
def test_many_processes_extracting_one_package_at_once_all_get_one_complete_tree(
    archive: tuple[PackageRef, Path], tmp_path: Path, locking: str
) -> None:
    """With locks (a local disk, NFSv4) one process extracts and the others wait for it; without (a filesystem that
    refuses them) all extract and the atomic rename decides. Either way everyone gets the same complete tree."""
    ref, archive_path = archive
    cache, go, extractions = tmp_path / "shared-cache", tmp_path / "go", tmp_path / "extractions.log"
    target = cache / ref.package_id
    arguments = [str(cache), ref.package_id, str(archive_path), ref.archive_sha256, str(go), str(extractions), locking]
    processes = [
        subprocess.Popen([sys.executable, "-c", EXTRACTOR, *arguments], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        for _ in range(8)
    ]
    time.sleep(0.5)  # let every interpreter start and wait at the line
    go.touch()
    while any(process.poll() is None for process in processes):
        # Whoever looks at the cache during the race sees no tree, or a complete one with its marker.
        if target.is_dir():
            assert (target / READY_MARKER).is_file()
        time.sleep(0.002)
    for process in processes:
        stdout, stderr = process.communicate()
        assert process.returncode == 0, stderr.decode()
        assert json.loads(stdout) == [str(target), ["code", "lib"]]
    assert cache_entries(cache) == [ref.package_id], "no temporary directory is left"
    if locking == "locks":
        assert extractions.read_text().count("extracting") == 1, "the others waited and used the first one's tree"


def test_the_loser_of_the_rename_race_uses_the_winners_tree(
    archive: tuple[PackageRef, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Deterministically: a rival completes its extraction while this one is still extracting."""
    ref, archive_path = archive
    cache = tmp_path / "cache"
    target = cache / ref.package_id
    real_extract = bootstrap_script.extract_archive
    rival_tree: list[int] = []

    def extract_after_a_rival(path: str, temp: str) -> None:
        monkeypatch.setattr(bootstrap_script, "extract_archive", real_extract)
        ensure_extracted(str(cache), ref.package_id, str(archive_path), ref.archive_sha256)  # the rival wins
        rival_tree.append(target.stat().st_ino)
        real_extract(path, temp)

    monkeypatch.setattr(bootstrap_script, "lock_extraction", lambda *arguments: None)  # a filesystem without locks
    monkeypatch.setattr(bootstrap_script, "extract_archive", extract_after_a_rival)
    found, entries = ensure_extracted(str(cache), ref.package_id, str(archive_path), ref.archive_sha256)
    assert found == str(target) and entries == ["code", "lib"]
    assert rival_tree == [target.stat().st_ino], "the winner's tree stays in place"
    assert cache_entries(cache) == [ref.package_id], "the loser's own tree is removed"


def test_a_tree_without_the_ready_marker_is_never_trusted(archive: tuple[PackageRef, Path], tmp_path: Path) -> None:
    """A tree copied in place file by file (not by this bootstrap) may be partial: it is refused, never run."""
    ref, archive_path = archive
    cache = tmp_path / "cache"
    ensure_extracted(str(cache), ref.package_id, str(archive_path), ref.archive_sha256)
    target = cache / ref.package_id
    (target / READY_MARKER).unlink()
    (target / "code" / "mylib" / "features.py").unlink()
    with pytest.raises(BootstrapError, match=r"is not a complete extraction \(it has no \.flowkit-ready\.json\)"):
        ensure_extracted(str(cache), ref.package_id, str(archive_path), ref.archive_sha256)
    (target / READY_MARKER).write_text("{")  # a marker cut short
    with pytest.raises(BootstrapError, match=r"unreadable \.flowkit-ready\.json"):
        ensure_extracted(str(cache), ref.package_id, str(archive_path), ref.archive_sha256)


def test_a_shared_cache_tree_is_readable_by_other_users_and_abandoned_extractions_are_removed(
    archive: tuple[PackageRef, Path], tmp_path: Path
) -> None:
    ref, archive_path = archive
    cache = tmp_path / "cache"
    abandoned, in_progress = cache / f".{ref.package_id}.killedpod", cache / f".{ref.package_id}.running"
    for directory in (abandoned, in_progress):
        (directory / "code").mkdir(parents=True)
    two_hours_ago = time.time() - 7200
    os.utime(abandoned, (two_hours_ago, two_hours_ago))
    target, _ = ensure_extracted(str(cache), ref.package_id, str(archive_path), ref.archive_sha256)
    assert os.stat(target).st_mode & 0o777 == 0o755
    assert cache_entries(cache) == sorted([ref.package_id, in_progress.name])


def test_a_tree_becomes_visible_only_once_complete_with_its_marker(
    archive: tuple[PackageRef, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """At the one moment the tree appears under its final name, every file and the marker are already there."""
    ref, archive_path = archive
    cache = tmp_path / "cache"
    real_rename = os.rename
    published: list[tuple[bool, bool]] = []

    def observed_rename(source: str, destination: str) -> None:
        tree = Path(source)
        manifest = json.loads((tree / "manifest.json").read_text())
        marker = tree / READY_MARKER
        files_complete = all(
            hashlib.sha256((tree / entry["path"]).read_bytes()).hexdigest() == entry["sha256"]
            for entry in manifest["files"]
        )
        published.append((marker.is_file(), files_complete))
        real_rename(source, destination)

    monkeypatch.setattr(os, "rename", observed_rename)
    ensure_extracted(str(cache), ref.package_id, str(archive_path), ref.archive_sha256)
    assert published == [(True, True)]


def test_a_tree_is_durable_before_its_marker_and_the_marker_before_the_rename(
    archive: tuple[PackageRef, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A cache outlives its pods: after a node crash, a tree under its final name must hold what was verified."""
    ref, archive_path = archive
    events: list[str] = []
    real_flush, real_fsync, real_rename = bootstrap_script.flush_filesystem, os.fsync, os.rename
    real_extract = bootstrap_script.extract_archive

    def extract(path: str, temp: str) -> None:
        real_extract(path, temp)
        events.append("extracted")

    def flush(path: str) -> None:
        events.append("flush" if Path(path).parent == tmp_path / "cache" else f"flush {path}")
        real_flush(path)

    def fsync(fd: int) -> None:
        events.append("fsync " + os.path.basename(os.readlink(f"/proc/self/fd/{fd}")))
        real_fsync(fd)

    def rename(source: str, destination: str) -> None:
        marker_written = (Path(source) / READY_MARKER).is_file()
        events.append(f"rename (marker written: {marker_written})")
        real_rename(source, destination)

    monkeypatch.setattr(bootstrap_script, "flush_filesystem", flush)
    monkeypatch.setattr(os, "fsync", fsync)
    monkeypatch.setattr(os, "rename", rename)
    monkeypatch.setattr(bootstrap_script, "extract_archive", extract)
    ensure_extracted(str(tmp_path / "cache"), ref.package_id, str(archive_path), ref.archive_sha256)
    assert events == ["extracted", "flush", f"fsync {READY_MARKER}", "rename (marker written: True)"]


@pytest.mark.skipif(sys.platform != "linux", reason="syncfs is Linux's")
def test_flushing_a_filesystem_falls_back_to_a_full_sync_where_syncfs_fails(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    synced: list[bool] = []
    monkeypatch.setattr(os, "sync", lambda: synced.append(True))
    bootstrap_script.flush_filesystem(str(tmp_path))  # syncfs works here: no full sync
    assert synced == []
    monkeypatch.setattr(ctypes, "CDLL", lambda *arguments, **options: types.SimpleNamespace(syncfs=lambda fd: -1))
    bootstrap_script.flush_filesystem(str(tmp_path))
    assert synced == [True]
