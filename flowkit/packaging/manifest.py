"""The manifest: the complete, canonical description of a code package, whose sha256 is the package id.

Everything in it is a function of the shipped content and the versions that must match in the pod, never of where
or when the package was built: two clones of a project in different directories, built at different times, get the
same id, and touching a file (a new mtime, same bytes) changes nothing.
"""

from __future__ import annotations

import hashlib
import json
import sys
from typing import Any

from pydantic import BaseModel, ConfigDict

MANIFEST_FORMAT = 1


class ManifestFile(BaseModel):
    """One shipped file, as it appears in the archive."""

    model_config = ConfigDict(frozen=True)

    path: str  # archive path, e.g. "code/mylib/features.py" or "lib/flowkit/task/cli.py"
    size: int
    mode: int  # normalized: 0o644 or 0o755
    sha256: str


class Manifest(BaseModel):
    """What a package holds and which interpreter and library versions may run it."""

    model_config = ConfigDict(frozen=True)

    format: int = MANIFEST_FORMAT
    flow_name: str
    graph: dict[str, Any]
    # The class-level specs and each step's resolved spec, as validated here: the pod reads them instead of
    # validating again (it has no pydantic); see flowkit.specs.shipped.
    class_specs: dict[str, dict[str, Any]]
    step_specs: dict[str, dict[str, Any]]
    python_version: str  # major.minor: a pickle's compatibility boundary
    flowkit_version: str
    cloudpickle_version: str
    # Archive directories to put on sys.path in the pod, in order (the shipped equivalents of the client's import
    # roots inside the project, then the shipped runtime).
    sys_path: list[str]
    files: list[ManifestFile]

    def canonical_json(self) -> bytes:
        """Sorted-key, whitespace-free JSON: the exact bytes stored as manifest.json and hashed into the id."""
        return json.dumps(self.model_dump(mode="json"), sort_keys=True, separators=(",", ":")).encode()

    @property
    def package_id(self) -> str:
        return hashlib.sha256(self.canonical_json()).hexdigest()

    @property
    def total_size(self) -> int:
        return sum(entry.size for entry in self.files)


def current_python_version() -> str:
    """The running interpreter's major.minor, the form the manifest and the pod bootstrap compare."""
    return f"{sys.version_info.major}.{sys.version_info.minor}"


def normalized_mode(executable: bool) -> int:
    """Only the executable bit survives packaging; owner, group and other permissions are fixed."""
    return 0o755 if executable else 0o644
