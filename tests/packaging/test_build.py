"""Package contents, ids and archive determinism."""

from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
import sys
import tarfile
from collections.abc import Callable
from pathlib import Path

import cloudpickle
import pytest

import flowkit
from flowkit.errors import FlowkitError
from flowkit.packaging import PackageSizeWarning, build_package

from .conftest import write_project

ImportFlow = Callable[..., type]


def _members(archive: bytes) -> dict[str, tarfile.TarInfo]:
    with tarfile.open(fileobj=io.BytesIO(archive), mode="r:gz") as tar:
        return {member.name: member for member in tar.getmembers()}


def test_two_clones_in_different_directories_give_identical_ids_and_bytes(
    tmp_path: Path, import_flow: ImportFlow
) -> None:
    clones = [tmp_path / "alice" / "checkout", tmp_path / "bob" / "somewhere" / "else"]
    packages = []
    for index, clone in enumerate(clones):
        write_project(clone)
        # Different mtimes and permissions beyond the executable bit must not matter.
        for path in clone.rglob("*.py"):
            os.utime(path, (1_000_000 * (index + 1), 1_000_000 * (index + 1)))
            path.chmod(0o600 if index else 0o664)
        packages.append(build_package(import_flow(clone)))
    first, second = packages
    assert first.package_id == second.package_id
    assert first.archive == second.archive
    assert first.archive_sha256 == second.archive_sha256 == hashlib.sha256(first.archive).hexdigest()


def test_touching_a_file_changes_nothing_and_editing_one_changes_the_id(project: Path, import_flow: ImportFlow) -> None:
    flow_cls = import_flow(project)
    before = build_package(flow_cls, project)
    features = project / "mylib" / "features.py"
    os.utime(features, (2_000_000_000, 2_000_000_000))
    touched = build_package(flow_cls, project)
    assert (touched.package_id, touched.archive) == (before.package_id, before.archive)
    features.write_text(features.read_text() + "\n# edited\n")
    edited = build_package(flow_cls, project)
    assert edited.package_id != before.package_id
    assert edited.archive_sha256 != before.archive_sha256


def test_archive_headers_carry_nothing_from_the_build_machine(project: Path, import_flow: ImportFlow) -> None:
    (project / "run.sh").write_text("#!/bin/sh\n")
    (project / "run.sh").chmod(0o775)
    package = build_package(import_flow(project), project)
    assert package.archive[4:8] == b"\0\0\0\0"  # gzip MTIME
    assert not package.archive[3] & 0x08  # gzip FNAME flag: no file name stored
    members = _members(package.archive)
    assert list(members) == sorted(members)
    for member in members.values():
        assert member.isfile()
        assert (member.mtime, member.uid, member.gid, member.uname, member.gname) == (0, 0, 0, "", "")
        assert member.mode in (0o644, 0o755)
        assert not member.name.startswith("/") and ".." not in member.name.split("/")
    assert members["code/run.sh"].mode == 0o755
    assert members["code/packflow.py"].mode == 0o644


def test_manifest_lists_every_file_versions_flow_and_graph(project: Path, import_flow: ImportFlow) -> None:
    package = build_package(import_flow(project), project)
    manifest = package.manifest
    assert package.package_id == hashlib.sha256(package.manifest_json).hexdigest()
    assert json.loads(package.manifest_json) == manifest.model_dump(mode="json")
    assert manifest.flow_name == "PackFlow"
    assert [node["name"] for node in manifest.graph["steps"]] == ["start", "end"]
    assert manifest.python_version == f"{sys.version_info.major}.{sys.version_info.minor}"
    assert (manifest.flowkit_version, manifest.cloudpickle_version) == (flowkit.__version__, cloudpickle.__version__)
    assert manifest.sys_path == ["code", "lib"]
    with tarfile.open(fileobj=io.BytesIO(package.archive), mode="r:gz") as tar:
        for entry in manifest.files:
            extracted = tar.extractfile(entry.path)
            assert extracted is not None
            data = extracted.read()
            assert (len(data), hashlib.sha256(data).hexdigest()) == (entry.size, entry.sha256)
        stored_manifest = tar.extractfile("manifest.json")
        assert stored_manifest is not None and stored_manifest.read() == package.manifest_json
    paths = {entry.path for entry in manifest.files}
    assert {"code/packflow.py", "code/mylib/__init__.py", "code/mylib/features.py"} <= paths


def test_flowkit_and_cloudpickle_sources_are_shipped(project: Path, import_flow: ImportFlow) -> None:
    paths = {entry.path for entry in build_package(import_flow(project), project).manifest.files}
    flowkit_dir = Path(flowkit.__file__).parent
    for module_file in ("__init__.py", "packaging/bootstrap_script.py", "errors.py"):
        assert (flowkit_dir / module_file).is_file()
        assert f"lib/flowkit/{module_file}" in paths
    assert "lib/cloudpickle/__init__.py" in paths
    assert not any("__pycache__" in path or path.endswith(".pyc") for path in paths)


def test_default_root_is_the_enclosing_git_checkout(tmp_path: Path, import_flow: ImportFlow) -> None:
    checkout = tmp_path / "repo"
    flow_dir = checkout / "flows" / "training"
    write_project(flow_dir)
    (checkout / ".git").mkdir()
    (checkout / "README.md").write_text("readme")
    package = build_package(import_flow(flow_dir))
    assert package.project_root == checkout.resolve()
    paths = {entry.path for entry in package.manifest.files}
    assert {"code/README.md", "code/flows/training/packflow.py"} <= paths
    # The flow file's directory is an import root, so `import mylib` resolves as it did on the client.
    assert package.manifest.sys_path == ["code/flows/training", "lib"]


def test_without_git_the_root_is_the_flow_files_directory(tmp_path: Path, import_flow: ImportFlow) -> None:
    flow_dir = tmp_path / "plain"
    write_project(flow_dir)
    (tmp_path / "sibling.txt").write_text("not shipped")
    assert build_package(import_flow(flow_dir)).project_root == flow_dir.resolve()


def test_an_explicit_root_that_is_not_a_directory_is_a_clear_error(project: Path, import_flow: ImportFlow) -> None:
    with pytest.raises(FlowkitError, match=r"project root .*missing given for the code package is not a directory"):
        build_package(import_flow(project), project / "missing")


def test_size_warning_and_configurable_limit(project: Path, import_flow: ImportFlow) -> None:
    flow_cls = import_flow(project)
    (project / "weights.bin").write_bytes(b"\0" * (11 * 1024 * 1024))
    with pytest.warns(PackageSizeWarning, match=r"weights\.bin"):
        build_package(flow_cls, project)
    with pytest.raises(FlowkitError, match=r"PackFlow.*over the limit of 5\.0 MiB.*\.flowkitignore") as raised:
        build_package(flow_cls, project, size_limit=5 * 1024 * 1024)
    assert "weights.bin" in str(raised.value)
    (project / ".flowkitignore").write_text("*.bin\n")
    build_package(flow_cls, project, size_limit=5 * 1024 * 1024)


def test_archive_unpacks_with_standard_tools(project: Path, import_flow: ImportFlow) -> None:
    package = build_package(import_flow(project), project)
    archive_file = project.parent / "code.tar.gz"
    archive_file.write_bytes(package.archive)
    shutil.unpack_archive(archive_file, project.parent / "unpacked")
    unpacked = project.parent / "unpacked" / "code" / "mylib" / "features.py"
    assert unpacked.read_text() == (project / "mylib" / "features.py").read_text()
