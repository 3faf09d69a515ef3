"""Publishing to a datastore directory: layout, write-once behaviour, and the reference handed to pods."""

from __future__ import annotations

import gzip
import hashlib
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import pytest

from flowkit.errors import DataStoreError
from flowkit.packaging import Payload, build_package, build_payload, publish_to_dir

ImportFlow = Callable[..., type]


def test_publish_writes_the_id_named_layout(project: Path, import_flow: ImportFlow, tmp_path: Path) -> None:
    flow_cls = import_flow(project)
    package, payload = build_package(flow_cls, project), build_payload(flow_cls, project)
    root = tmp_path / "datastore"
    ref = publish_to_dir(package, payload, root)
    assert ref.archive_path == f"packages/sha256/{package.package_id}/code.tar.gz"
    assert ref.manifest_path == f"packages/sha256/{package.package_id}/manifest.json"
    assert (root / ref.archive_path).read_bytes() == package.archive
    assert (root / ref.manifest_path).read_bytes() == package.manifest_json
    assert (ref.package_id, ref.archive_sha256, ref.flow_reference) == (
        package.package_id,
        package.archive_sha256,
        "packflow:PackFlow",
    )
    # Imported from the shipped source: no pickle, so no Python or cloudpickle version to match.
    assert (ref.payload_path, ref.python_version, ref.cloudpickle_version) == (None, None, None)
    assert not (root / "packages" / "payloads").exists()
    leftovers = [path.name for path in root.rglob("*") if path.name.startswith(".")]
    assert leftovers == []


def test_publish_writes_a_payload_pickled_by_value_with_the_versions_to_match(
    project: Path, import_flow: ImportFlow, tmp_path: Path
) -> None:
    package = build_package(import_flow(project), project)
    payload = Payload(b"pickled class", hashlib.sha256(b"pickled class").hexdigest())
    ref = publish_to_dir(package, payload, tmp_path / "datastore")
    assert ref.payload_path == f"packages/payloads/{payload.sha256}.pkl"
    assert (tmp_path / "datastore" / ref.payload_path).read_bytes() == payload.data
    assert (ref.flow_reference, ref.payload_sha256, ref.python_version, ref.cloudpickle_version) == (
        None,
        payload.sha256,
        package.manifest.python_version,
        package.manifest.cloudpickle_version,
    )


def test_publishing_again_leaves_existing_files_alone(project: Path, import_flow: ImportFlow, tmp_path: Path) -> None:
    flow_cls = import_flow(project)
    package, payload = build_package(flow_cls, project), build_payload(flow_cls, project)
    root = tmp_path / "datastore"
    first = publish_to_dir(package, payload, root)
    archive = root / first.archive_path
    stat_before = archive.stat()
    assert publish_to_dir(package, payload, root) == first
    assert archive.stat().st_ino == stat_before.st_ino


def test_an_earlier_archive_of_the_same_package_is_kept_and_referenced(
    project: Path, import_flow: ImportFlow, tmp_path: Path
) -> None:
    """Same manifest, different compressed bytes (another zlib): the ref must name the bytes on the volume."""
    flow_cls = import_flow(project)
    package, payload = build_package(flow_cls, project), build_payload(flow_cls, project)
    root = tmp_path / "datastore"
    earlier = gzip.compress(gzip.decompress(package.archive), compresslevel=1, mtime=0)
    assert earlier != package.archive
    earlier_package = replace(package, archive=earlier, archive_sha256=hashlib.sha256(earlier).hexdigest())
    publish_to_dir(earlier_package, payload, root)
    ref = publish_to_dir(package, payload, root)
    assert (root / ref.archive_path).read_bytes() == earlier
    assert ref.archive_sha256 == hashlib.sha256(earlier).hexdigest()


@pytest.mark.parametrize("which", ["archive", "manifest", "payload"])
def test_a_file_already_there_is_checked_not_adopted(
    project: Path, import_flow: ImportFlow, tmp_path: Path, which: str
) -> None:
    """A file of the right name but the wrong content (damaged, or another package's) stops the publish."""
    flow_cls = import_flow(project)
    package = build_package(flow_cls, project)
    payload = Payload(b"pickled class", hashlib.sha256(b"pickled class").hexdigest())  # by value: it has a file
    root = tmp_path / "datastore"
    ref = publish_to_dir(package, payload, root)
    path = root / str({"archive": ref.archive_path, "manifest": ref.manifest_path, "payload": ref.payload_path}[which])
    path.write_bytes(b"not what the name promises")
    with pytest.raises(DataStoreError, match="already exists but is not what this package needs") as raised:
        publish_to_dir(package, payload, root)
    assert str(path) in str(raised.value)
