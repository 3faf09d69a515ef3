"""Building a code package: the project tree, flowkit's runtime and cloudpickle, described by a manifest.

Shipping flowkit and cloudpickle inside the package means the client and the pod never disagree on their versions:
the image needs only Python and flowkit's documented runtime dependencies, never the user's code nor a particular
flowkit release.
"""

from __future__ import annotations

import hashlib
import warnings
from dataclasses import dataclass
from pathlib import Path

import cloudpickle

import flowkit
from flowkit.errors import FlowkitError
from flowkit.graph import build_graph
from flowkit.packaging.archive import ArchiveMember, write_archive
from flowkit.packaging.bootstrap_script import CODE_DIR, LIB_DIR, MANIFEST_NAME
from flowkit.packaging.ignore import ProjectFile, scan_project
from flowkit.packaging.manifest import Manifest, ManifestFile, current_python_version, normalized_mode
from flowkit.packaging.modules import plan_modules
from flowkit.packaging.project import flow_source_file, resolve_project_root
from flowkit.specs import resolve_step_specs
from flowkit.specs.resolve import class_level_specs

MIB = 1024 * 1024
SIZE_WARNING_BYTES = 10 * MIB
DEFAULT_SIZE_LIMIT_BYTES = 100 * MIB


class PackageSizeWarning(UserWarning):
    """The project is large enough that shipping it on every deploy is probably a mistake (data, models)."""


@dataclass(frozen=True)
class BuiltPackage:
    """A built package, in memory: the archive bytes and what describes and identifies them."""

    manifest: Manifest
    manifest_json: bytes
    archive: bytes
    archive_sha256: str
    project_root: Path
    skipped: list[str]  # project paths left out because they are symlinks or special files

    @property
    def package_id(self) -> str:
        return self.manifest.package_id

    @property
    def size(self) -> int:
        return len(self.archive)


def _check_size(flow_name: str, root: Path, files: list[ProjectFile], size_limit: int) -> None:
    total = sum(item.size for item in files)
    if total <= min(size_limit, SIZE_WARNING_BYTES):
        return
    largest = sorted(files, key=lambda item: item.size, reverse=True)[:5]
    listing = ", ".join(f"{item.relpath} ({item.size / MIB:.1f} MiB)" for item in largest)
    summary = f"the code package of {flow_name} holds {total / MIB:.1f} MiB from {root} (largest: {listing})"
    if total > size_limit:
        raise FlowkitError(
            f"{summary}, over the limit of {size_limit / MIB:.1f} MiB; list data files in .flowkitignore or "
            "choose a narrower project root"
        )
    warnings.warn(f"{summary}; data files belong in .flowkitignore", PackageSizeWarning, stacklevel=3)


def _read_members(files: list[ProjectFile], prefix: str) -> tuple[list[ArchiveMember], list[ManifestFile]]:
    members: list[ArchiveMember] = []
    entries: list[ManifestFile] = []
    for item in files:
        data = item.path.read_bytes()
        name = f"{prefix}/{item.relpath}"
        mode = normalized_mode(item.executable)
        members.append(ArchiveMember(name, data, mode))
        entries.append(ManifestFile(path=name, size=len(data), mode=mode, sha256=hashlib.sha256(data).hexdigest()))
    return members, entries


def _runtime_sources() -> list[tuple[Path, str]]:
    """The source directories of the runtime shipped in lib/: flowkit's own package and cloudpickle's."""
    return [
        (Path(flowkit.__file__).parent, f"{LIB_DIR}/flowkit"),
        (Path(cloudpickle.__file__).parent, f"{LIB_DIR}/cloudpickle"),
    ]


def build_package(
    flow_cls: type, project_root: str | Path | None = None, *, size_limit: int = DEFAULT_SIZE_LIMIT_BYTES
) -> BuiltPackage:
    """Build the code package of ``flow_cls``.

    The project root is ``project_root`` if given, else the nearest git checkout enclosing the flow file, else the
    flow file's directory. The flow is validated (graph and specs) before anything is read, so an invalid flow is
    reported as such rather than as a packaging problem.
    """
    graph = build_graph(flow_cls)
    step_specs = resolve_step_specs(flow_cls)
    flow_file = flow_source_file(flow_cls)
    root = resolve_project_root(flow_file, project_root)
    scan = scan_project(root)
    _check_size(graph.flow_name, root, scan.files, size_limit)

    members, entries = _read_members(scan.files, CODE_DIR)
    for source_dir, prefix in _runtime_sources():
        runtime_members, runtime_entries = _read_members(scan_project(source_dir).files, prefix)
        members += runtime_members
        entries += runtime_entries
    plan = plan_modules(root, flow_file)
    manifest = Manifest(
        flow_name=graph.flow_name,
        graph=graph.to_dict(),
        # Validated here; the pod reads them as they are (flowkit.specs.shipped).
        class_specs={name: spec.model_dump(mode="json") for name, spec in class_level_specs(flow_cls).items()},
        step_specs={name: spec.model_dump(mode="json") for name, spec in step_specs.items()},
        python_version=current_python_version(),
        flowkit_version=flowkit.__version__,
        cloudpickle_version=cloudpickle.__version__,
        sys_path=[f"{CODE_DIR}/{entry}" if entry else CODE_DIR for entry in plan.import_roots] + [LIB_DIR],
        files=sorted(entries, key=lambda entry: entry.path),
    )
    manifest_json = manifest.canonical_json()
    archive = write_archive([*members, ArchiveMember(MANIFEST_NAME, manifest_json, normalized_mode(False))])
    return BuiltPackage(
        manifest=manifest,
        manifest_json=manifest_json,
        archive=archive,
        archive_sha256=hashlib.sha256(archive).hexdigest(),
        project_root=root,
        skipped=scan.skipped,
    )
