"""Placing a package on the datastore volume, and the reference that tells a pod where it is and what to expect.

Layout, relative to the datastore root (the PVC's mount point in a pod)::

    packages/sha256/<package_id>/code.tar.gz     the archive
    packages/sha256/<package_id>/manifest.json   its manifest (also inside the archive), for inspection
    packages/payloads/<payload_sha256>.pkl       the pickled flow class (only for a flow that travels by value)

Every file is written once: to a temporary name in its final directory, fsynced, then renamed, and a file that is
already there is left alone. Concurrent deploys of the same code therefore neither clash nor leave a torn file.
A file that is already there is checked first, never trusted for its name: the manifest and the payload must have
the sha256 their names promise, and an archive must hold the manifest whose sha256 is the package id (its own bytes
may differ from this build's, as compressors do, while holding the same files).
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from pydantic import BaseModel, ConfigDict

from flowkit.datastore.atomic import write_file_atomically
from flowkit.errors import DataStoreError
from flowkit.packaging.bootstrap_script import MANIFEST_NAME
from flowkit.packaging.build import BuiltPackage
from flowkit.packaging.payload import Payload

PACKAGES_DIR = "packages"
ARCHIVE_NAME = "code.tar.gz"


class PackageRef(BaseModel):
    """Everything a pod needs to find and verify a published package; the workflow spec carries these values.

    A flow that travels by reference has ``flow_reference`` and no payload; one pickled by value has the payload's
    place and digest and the Python and cloudpickle versions that must read it.
    """

    model_config = ConfigDict(frozen=True)

    package_id: str
    archive_sha256: str
    archive_path: str  # relative to the datastore root
    manifest_path: str
    flow_reference: str | None = None  # "module:Qualname", imported from the shipped source
    payload_sha256: str | None = None
    payload_path: str | None = None
    python_version: str | None = None  # major.minor
    cloudpickle_version: str | None = None


def archive_relpath(package_id: str) -> str:
    return f"{PACKAGES_DIR}/sha256/{package_id}/{ARCHIVE_NAME}"


def manifest_relpath(package_id: str) -> str:
    return f"{PACKAGES_DIR}/sha256/{package_id}/manifest.json"


def payload_relpath(payload_sha256: str) -> str:
    return f"{PACKAGES_DIR}/payloads/{payload_sha256}.pkl"


def package_ref(package: BuiltPackage, payload: Payload, *, archive_sha256: str | None = None) -> PackageRef:
    """The reference to ``package`` and ``payload`` at their standard places.

    ``archive_sha256`` overrides the built archive's hash when the place already holds an archive of the same
    package from an earlier build (same manifest, same content, possibly different compressor output).
    """
    by_value = {}
    if payload.by_value:
        by_value = {
            "payload_sha256": payload.sha256,
            "payload_path": payload_relpath(payload.sha256),
            "python_version": package.manifest.python_version,
            "cloudpickle_version": package.manifest.cloudpickle_version,
        }
    return PackageRef(
        package_id=package.package_id,
        archive_sha256=archive_sha256 or package.archive_sha256,
        archive_path=archive_relpath(package.package_id),
        manifest_path=manifest_relpath(package.package_id),
        flow_reference=payload.reference,
        **by_value,
    )


def _file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        for block in iter(lambda: stream.read(1024 * 1024), b""):
            digest.update(block)
    return digest.hexdigest()


def _foreign_file(path: Path, found: str) -> DataStoreError:
    return DataStoreError(
        f"{path} already exists but is not what this package needs ({found}); it was damaged or written by "
        "something else: move it away and publish again"
    )


def _check_existing(path: Path, expected_sha256: str) -> None:
    """A content-addressed file that was already in place must have the digest its name promises."""
    actual = _file_sha256(path)
    if actual != expected_sha256:
        raise _foreign_file(path, f"sha256 {actual}, expected {expected_sha256}")


def _existing_archive_sha256(path: Path, package_id: str) -> str:
    """The sha256 of an archive that was already in place, once it is known to hold this package's manifest."""
    import tarfile

    try:
        with tarfile.open(path, "r:gz") as tar:
            member = tar.extractfile(MANIFEST_NAME)
            manifest = member.read() if member is not None else b""
    except (OSError, tarfile.TarError, KeyError) as error:
        raise _foreign_file(path, f"not a readable package archive: {error}") from error
    if hashlib.sha256(manifest).hexdigest() != package_id:
        raise _foreign_file(path, f"its {MANIFEST_NAME} is not package {package_id}'s")
    return _file_sha256(path)


def publish_to_dir(package: BuiltPackage, payload: Payload, datastore_root: str | Path) -> PackageRef:
    """Write ``package`` and ``payload`` under ``datastore_root`` (a local directory or a PVC mount point), checking
    what was already there; raises `DataStoreError` naming a file that is there but is not this package's."""
    root = Path(datastore_root)
    manifest_path = root / manifest_relpath(package.package_id)
    if not write_file_atomically(manifest_path, package.manifest_json, replace=False):
        _check_existing(manifest_path, package.package_id)
    if payload.by_value:
        payload_path = root / payload_relpath(payload.sha256)
        if not write_file_atomically(payload_path, payload.data, replace=False):
            _check_existing(payload_path, payload.sha256)
    archive_path = root / archive_relpath(package.package_id)
    if write_file_atomically(archive_path, package.archive, replace=False):
        return package_ref(package, payload)
    return package_ref(package, payload, archive_sha256=_existing_archive_sha256(archive_path, package.package_id))
