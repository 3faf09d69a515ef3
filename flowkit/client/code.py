"""The code a run executed (Metaflow's ``run.code``): the code package its pods bootstrapped from.

Only runs started from a code package have one (Argo runs); a local run executes the working tree as it is, so
its ``code`` is None, as a local Metaflow run's is.
"""

from __future__ import annotations

import json
import tarfile
from functools import cached_property
from pathlib import Path
from typing import Any

from flowkit.datastore import DataStore


class RunCode:
    """A published code package: ``path`` of its archive, ``info`` (its manifest), ``tarball``, ``flowspec``."""

    def __init__(self, package_id: str, archive: Path, manifest: Path, flow_name: str) -> None:
        self.package_id = package_id
        self.path = archive
        self._manifest = manifest
        self._flow_name = flow_name

    @classmethod
    def of_run(cls, store: DataStore, package_id: str | None, flow_name: str) -> RunCode | None:
        """The package `package_id` as published in `store` (None without one, or if it is not there)."""
        if package_id is None:
            return None
        from flowkit.packaging.publish import archive_relpath, manifest_relpath

        archive = store.root / archive_relpath(package_id)
        if not archive.is_file():
            return None
        return cls(package_id, archive, store.root / manifest_relpath(package_id), flow_name)

    @cached_property
    def info(self) -> dict[str, Any]:
        """The manifest: flow name, graph, Python and library versions, every shipped file with its hash."""
        info: dict[str, Any] = json.loads(self._manifest.read_bytes())
        return info

    @property
    def tarball(self) -> tarfile.TarFile:
        """The archive, opened for reading (close it when done)."""
        return tarfile.open(self.path, mode="r:gz")

    @cached_property
    def flowspec(self) -> str | None:
        """The source of the shipped file that defines the flow class (None if no shipped file defines it)."""
        definition = f"class {self._flow_name}("
        with self.tarball as archive:
            for member in archive.getmembers():
                if not (member.name.startswith("code/") and member.name.endswith(".py")):
                    continue
                handle = archive.extractfile(member)
                text = handle.read().decode("utf-8", errors="replace") if handle is not None else ""
                if any(line.startswith(definition) for line in text.splitlines()):
                    return text
        return None

    def __repr__(self) -> str:
        return f"RunCode('{self.package_id}')"
