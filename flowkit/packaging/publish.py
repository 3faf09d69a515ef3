"""Placing a package on the datastore volume, and the reference that tells a pod where it is and what to expect.

Layout, relative to the datastore root (the PVC's mount point in a pod)::

    packages/sha256/<package_id>/code.tar.gz     the archive
    packages/sha256/<package_id>/manifest.json   its manifest (also inside the archive), for inspection
    packages/payloads/<payload_sha256>.pkl       the pickled flow class

Every file is written once: to a temporary name in its final directory, fsynced, then renamed, and a file that is
already there is left alone. Concurrent deploys of the same code therefore neither clash nor leave a torn file.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from pydantic import BaseModel, ConfigDict

from flowkit.datastore.atomic import write_file_atomically
from flowkit.packaging.build import BuiltPackage
from flowkit.packaging.payload import Payload

PACKAGES_DIR = "packages"
ARCHIVE_NAME = "code.tar.gz"


class PackageRef(BaseModel):
    """Everything a pod needs to find and verify a published package; the workflow spec carries these values."""

    model_config = ConfigDict(frozen=True)

    package_id: str
    archive_sha256: str
    payload_sha256: str
    python_version: str  # major.minor
    cloudpickle_version: str
    archive_path: str  # relative to the datastore root
    manifest_path: str
    payload_path: str


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
    return PackageRef(
        package_id=package.package_id,
        archive_sha256=archive_sha256 or package.archive_sha256,
        payload_sha256=payload.sha256,
        python_version=package.manifest.python_version,
        cloudpickle_version=package.manifest.cloudpickle_version,
        archive_path=archive_relpath(package.package_id),
        manifest_path=manifest_relpath(package.package_id),
        payload_path=payload_relpath(payload.sha256),
    )


def _file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        for block in iter(lambda: stream.read(1024 * 1024), b""):
            digest.update(block)
    return digest.hexdigest()


def publish_to_dir(package: BuiltPackage, payload: Payload, datastore_root: str | Path) -> PackageRef:
    """Write ``package`` and ``payload`` under ``datastore_root`` (a local directory or a PVC mount point)."""
    root = Path(datastore_root)
    write_file_atomically(root / manifest_relpath(package.package_id), package.manifest_json, replace=False)
    write_file_atomically(root / payload_relpath(payload.sha256), payload.data, replace=False)
    archive_path = root / archive_relpath(package.package_id)
    if write_file_atomically(archive_path, package.archive, replace=False):
        return package_ref(package, payload)
    return package_ref(package, payload, archive_sha256=_file_sha256(archive_path))
