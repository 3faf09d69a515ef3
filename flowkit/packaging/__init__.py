"""Code packages: ship a flow's project to pods as a content-hashed archive plus a separately hashed pickled class.

See docs/packaging.md for what is shipped, how ids are computed and the security model. The names are resolved
lazily (PEP 562): a pod's task command reads `flowkit.packaging.bootstrap_script` (standard library only) on a bare
interpreter, where importing the builder's modules would fail on pydantic.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from flowkit import lazy_exports

# public name -> module that defines it
_EXPORTS: dict[str, str] = {
    "bootstrap_command": "flowkit.packaging.bootstrap",
    "DEFAULT_SIZE_LIMIT_BYTES": "flowkit.packaging.build",
    "BuiltPackage": "flowkit.packaging.build",
    "PackageSizeWarning": "flowkit.packaging.build",
    "build_package": "flowkit.packaging.build",
    "Payload": "flowkit.packaging.payload",
    "build_payload": "flowkit.packaging.payload",
    "PackageRef": "flowkit.packaging.publish",
    "archive_relpath": "flowkit.packaging.publish",
    "manifest_relpath": "flowkit.packaging.publish",
    "package_ref": "flowkit.packaging.publish",
    "payload_relpath": "flowkit.packaging.publish",
    "publish_to_dir": "flowkit.packaging.publish",
}

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

if TYPE_CHECKING:
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


__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS, __all__)
