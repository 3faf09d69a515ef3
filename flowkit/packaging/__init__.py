"""Code packages: ship a flow's project to pods as a content-hashed archive plus a separately hashed pickled class.

See docs/packaging.md for what is shipped, how ids are computed and the security model.
"""

from __future__ import annotations

from flowkit.packaging.bootstrap import bootstrap_command
from flowkit.packaging.build import DEFAULT_SIZE_LIMIT_BYTES, BuiltPackage, PackageSizeWarning, build_package
from flowkit.packaging.payload import Payload, build_payload
from flowkit.packaging.publish import (
    PackageRef,
    archive_relpath,
    manifest_relpath,
    package_ref,
    payload_relpath,
    publish_to_dir,
)

__all__ = [
    "DEFAULT_SIZE_LIMIT_BYTES",
    "BuiltPackage",
    "PackageRef",
    "PackageSizeWarning",
    "Payload",
    "archive_relpath",
    "bootstrap_command",
    "build_package",
    "build_payload",
    "manifest_relpath",
    "package_ref",
    "payload_relpath",
    "publish_to_dir",
]
