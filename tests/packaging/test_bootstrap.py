"""The pod bootstrap: versions first, digests before anything is unpickled, safe and cached extraction."""

from __future__ import annotations

import hashlib
import io
import os
import pickle
import subprocess
import sys
import tarfile
from collections.abc import Callable
from pathlib import Path

import pytest

from flowkit.packaging import PackageRef, Payload, bootstrap_command, build_package, publish_to_dir
from flowkit.packaging.bootstrap import SCRIPT_PATH
from flowkit.packaging.bootstrap_script import (
    EXIT_BOOTSTRAP_FAILED,
    BootstrapError,
    BootstrapOptions,
    ensure_extracted,
    parse_arguments,
)
from tests.packaging.conftest import cache_entries

ImportFlow = Callable[..., type]


class _CreatesMarker:
    """A stand-in payload whose mere unpickling leaves a directory behind: proof of whether it was unpickled."""

    def __init__(self, marker: Path) -> None:
        self.marker = str(marker)

    def __reduce__(self) -> tuple[object, tuple[str]]:
        return os.mkdir, (self.marker,)


def _marker_payload(marker: Path) -> Payload:
    data = pickle.dumps(_CreatesMarker(marker), protocol=5)
    return Payload(data, hashlib.sha256(data).hexdigest())


@pytest.fixture
def published(project: Path, import_flow: ImportFlow, tmp_path: Path) -> tuple[PackageRef, Path, Path]:
    """A published package whose payload, when unpickled, creates ``<tmp>/unpickled``; returns (ref, root, marker)."""
    marker = tmp_path / "unpickled"
    root = tmp_path / "datastore"
    ref = publish_to_dir(build_package(import_flow(project), project), _marker_payload(marker), root)
    return ref, root, marker


def _bootstrap(ref: PackageRef, root: Path, cache: Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    cwd.mkdir(exist_ok=True)
    command = bootstrap_command(
        ref, ["--help"], datastore_mount=str(root), python=sys.executable, script=str(SCRIPT_PATH), cache_dir=str(cache)
    )
    return subprocess.run(command, cwd=cwd, capture_output=True, text=True, check=False, env=_env_without_pythonpath())


def _env_without_pythonpath() -> dict[str, str]:
    return {name: value for name, value in os.environ.items() if name != "PYTHONPATH"}


def test_an_untampered_package_is_unpickled(published: tuple[PackageRef, Path, Path], tmp_path: Path) -> None:
    ref, root, marker = published
    _bootstrap(ref, root, tmp_path / "cache", tmp_path / "cwd")
    assert marker.is_dir()
    assert (tmp_path / "cache" / ref.package_id / "lib" / "cloudpickle" / "__init__.py").is_file()


class _RecordsSysPath:
    """A stand-in payload whose unpickling writes the ``sys.path`` it ran under, one entry a line, to a file."""

    def __init__(self, record: Path) -> None:
        self.code = f"import sys; open({str(record)!r}, 'w').write(chr(10).join(sys.path))"

    def __reduce__(self) -> tuple[object, tuple[str]]:
        return exec, (self.code,)


def test_the_mounted_scripts_directory_is_not_importable(
    project: Path, import_flow: ImportFlow, tmp_path: Path
) -> None:
    """Run as a ConfigMap mounts it (the file a symlink into a hidden directory), the bootstrap leaves neither
    directory on sys.path: nothing lying next to it may be imported by the flow."""
    record = tmp_path / "sys-path.txt"
    data = pickle.dumps(_RecordsSysPath(record), protocol=5)
    root = tmp_path / "datastore"
    ref = publish_to_dir(
        build_package(import_flow(project), project), Payload(data, hashlib.sha256(data).hexdigest()), root
    )
    mount = tmp_path / "flowkit-bootstrap"
    (mount / "..data").mkdir(parents=True)
    (mount / "..data" / "bootstrap.py").write_text(SCRIPT_PATH.read_text(encoding="utf-8"), encoding="utf-8")
    (mount / "bootstrap.py").symlink_to("..data/bootstrap.py")
    command = bootstrap_command(
        ref, ["--help"], datastore_mount=str(root), python=sys.executable, script=str(mount / "bootstrap.py"),
        cache_dir=str(tmp_path / "cache"),
    )  # fmt: skip
    subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, check=False, env=_env_without_pythonpath())
    entries = record.read_text(encoding="utf-8").splitlines()
    assert entries[0].startswith(str(tmp_path / "cache")), "the shipped code comes first"
    assert not {str(mount), str(mount / "..data"), ""} & set(entries)


def test_a_tampered_payload_is_rejected_before_unpickling(
    published: tuple[PackageRef, Path, Path], tmp_path: Path
) -> None:
    ref, root, marker = published
    (root / ref.payload_path).write_bytes(pickle.dumps(_CreatesMarker(marker), protocol=4))
    result = _bootstrap(ref, root, tmp_path / "cache", tmp_path / "cwd")
    assert result.returncode == EXIT_BOOTSTRAP_FAILED
    assert f"payload {root / ref.payload_path} has sha256" in result.stderr
    assert f"the workflow expects {ref.payload_sha256}" in result.stderr
    assert not marker.exists()


def test_a_tampered_archive_is_rejected_before_extracting_or_unpickling(
    published: tuple[PackageRef, Path, Path], tmp_path: Path
) -> None:
    ref, root, marker = published
    archive = root / ref.archive_path
    archive.write_bytes(archive.read_bytes()[:-1] + b"\x01")
    result = _bootstrap(ref, root, tmp_path / "cache", tmp_path / "cwd")
    assert result.returncode == EXIT_BOOTSTRAP_FAILED
    assert f"archive {archive} has sha256" in result.stderr
    assert not marker.exists()
    assert not (tmp_path / "cache" / ref.package_id).exists()


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        (
            "python_version",
            "3.99",
            "with Python 3.99 (it has no source file in the project) but this container runs Python",
        ),
        ("cloudpickle_version", "0.0.1", "pickled with cloudpickle 0.0.1 but cloudpickle"),
    ],
)
def test_a_version_mismatch_is_reported_before_unpickling(
    published: tuple[PackageRef, Path, Path], tmp_path: Path, field: str, value: str, message: str
) -> None:
    ref, root, marker = published
    result = _bootstrap(ref.model_copy(update={field: value}), root, tmp_path / "cache", tmp_path / "cwd")
    assert result.returncode == EXIT_BOOTSTRAP_FAILED
    assert message in result.stderr
    assert not marker.exists()


def test_runtime_imported_before_the_package_is_refused(
    published: tuple[PackageRef, Path, Path], tmp_path: Path
) -> None:
    """An image that imports its own cloudpickle at start-up (here via sitecustomize) must not unpickle the flow."""
    ref, root, marker = published
    startup = tmp_path / "startup"
    startup.mkdir()
    (startup / "sitecustomize.py").write_text("import cloudpickle\n")
    command = bootstrap_command(
        ref, [], datastore_mount=str(root), python=sys.executable, script=str(SCRIPT_PATH), cache_dir=str(tmp_path)
    )
    result = subprocess.run(
        command, capture_output=True, text=True, check=False, env={**os.environ, "PYTHONPATH": str(startup)}
    )
    assert result.returncode == EXIT_BOOTSTRAP_FAILED
    assert "were imported before the package was put on sys.path" in result.stderr
    assert not marker.exists()


def test_a_warm_cache_is_reused_without_reading_the_archive(
    published: tuple[PackageRef, Path, Path], tmp_path: Path
) -> None:
    ref, root, marker = published
    cache = tmp_path / "cache"
    _bootstrap(ref, root, cache, tmp_path / "cwd")
    marker.rmdir()
    (root / ref.archive_path).unlink()
    _bootstrap(ref, root, cache, tmp_path / "cwd")
    assert marker.is_dir()
    assert cache_entries(cache) == [ref.package_id]


class _ExitsCleanly:
    """A payload whose unpickling ends the process with status 0: a run got through every check."""

    def __reduce__(self) -> tuple[object, tuple[int]]:
        return os._exit, (0,)


def test_concurrent_cold_starts_share_one_extraction(project: Path, import_flow: ImportFlow, tmp_path: Path) -> None:
    data = pickle.dumps(_ExitsCleanly(), protocol=5)
    root = tmp_path / "datastore"
    package = build_package(import_flow(project), project)
    ref = publish_to_dir(package, Payload(data, hashlib.sha256(data).hexdigest()), root)
    cache = tmp_path / "cache"
    processes = []
    for _ in range(4):
        command = bootstrap_command(
            ref, [], datastore_mount=str(root), python=sys.executable, script=str(SCRIPT_PATH), cache_dir=str(cache)
        )
        processes.append(subprocess.Popen(command, stderr=subprocess.PIPE, env=_env_without_pythonpath()))
    for process in processes:
        _, stderr = process.communicate(timeout=60)
        assert process.returncode == 0, stderr.decode()
    assert cache_entries(cache) == [ref.package_id]


def test_the_payload_is_verified_even_with_a_warm_cache(
    published: tuple[PackageRef, Path, Path], tmp_path: Path
) -> None:
    ref, root, marker = published
    cache = tmp_path / "cache"
    _bootstrap(ref, root, cache, tmp_path / "cwd")
    marker.rmdir()
    (root / ref.payload_path).write_bytes(pickle.dumps(_CreatesMarker(marker), protocol=4))
    result = _bootstrap(ref, root, cache, tmp_path / "cwd")
    assert result.returncode == EXIT_BOOTSTRAP_FAILED
    assert not marker.exists()


# --- archive safety: every hostile member is refused even when the archive's digest matches -------------------


def _hostile_archive(tmp_path: Path, member: tarfile.TarInfo, data: bytes = b"") -> tuple[Path, str]:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        member.size = len(data) if member.isfile() else 0
        tar.addfile(member, io.BytesIO(data) if member.isfile() else None)
    path = tmp_path / "hostile.tar.gz"
    path.write_bytes(buffer.getvalue())
    return path, hashlib.sha256(buffer.getvalue()).hexdigest()


def _member(name: str, kind: bytes = tarfile.REGTYPE, linkname: str = "") -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.linkname = linkname
    info.mode = 0o644
    return info


@pytest.mark.parametrize(
    ("member", "problem"),
    [
        (_member("../escaped.txt"), "'..' component"),
        (_member("code/../../escaped.txt"), "'..' component"),
        (_member("/tmp/absolute.txt"), "not a relative POSIX path"),
        (_member("code/link", tarfile.SYMTYPE, "../../../escaped.txt"), "link or a special file"),
        (_member("code/abs-link", tarfile.SYMTYPE, "/etc/passwd"), "link or a special file"),
        (_member("code/hard", tarfile.LNKTYPE, "/etc/passwd"), "link or a special file"),
        (_member("code/device", tarfile.CHRTYPE), "link or a special file"),
        (_member("code/fifo", tarfile.FIFOTYPE), "link or a special file"),
        (_member("elsewhere/file.txt"), "outside code/ and lib/"),
    ],
    ids=["dotdot", "nested-dotdot", "absolute", "symlink-out", "symlink-abs", "hardlink-out", "device", "fifo", "top"],
)
def test_hostile_archive_members_are_refused(tmp_path: Path, member: tarfile.TarInfo, problem: str) -> None:
    archive, digest = _hostile_archive(tmp_path, member, b"payload")
    cache = tmp_path / "cache"
    with pytest.raises(BootstrapError, match="refusing to extract") as raised:
        ensure_extracted(str(cache), "0" * 64, str(archive), digest)
    assert problem in str(raised.value)
    assert not (tmp_path / "escaped.txt").exists()
    assert cache_entries(cache) == []  # the temporary extraction directory is gone too


def test_setuid_members_are_refused(tmp_path: Path) -> None:
    member = _member("code/tool")
    member.mode = 0o4755
    archive, digest = _hostile_archive(tmp_path, member, b"#!/bin/sh\n")
    with pytest.raises(BootstrapError, match="setuid"):
        ensure_extracted(str(tmp_path / "cache"), "0" * 64, str(archive), digest)


def test_files_that_do_not_match_the_manifest_are_refused(
    published: tuple[PackageRef, Path, Path], tmp_path: Path
) -> None:
    """A well-formed archive whose content differs from what the package id names is not trusted either."""
    ref, root, _ = published
    buffer = io.BytesIO()
    with tarfile.open(root / ref.archive_path, "r:gz") as source, tarfile.open(fileobj=buffer, mode="w:gz") as copy:
        for member in source.getmembers():
            data = source.extractfile(member)
            assert data is not None
            content = data.read()
            if member.name == "code/mylib/features.py":
                content += b"\nimport os  # injected\n"
                member.size = len(content)
            copy.addfile(member, io.BytesIO(content))
    archive = tmp_path / "repacked.tar.gz"
    archive.write_bytes(buffer.getvalue())
    with pytest.raises(BootstrapError, match=r"do not match its manifest: code/mylib/features\.py"):
        ensure_extracted(
            str(tmp_path / "cache"), ref.package_id, str(archive), hashlib.sha256(buffer.getvalue()).hexdigest()
        )


def test_the_command_passes_the_script_options_and_task_argv(published: tuple[PackageRef, Path, Path]) -> None:
    ref, _, _ = published
    command = bootstrap_command(ref, ["--step", "start"], datastore_mount="/flowkit", python="python3")
    assert command[:2] == ["python3", "/flowkit-bootstrap/bootstrap.py"]  # the ConfigMap's mount, not the source
    options, task_argv = parse_arguments(command[2:])
    assert task_argv == ["--step", "start"]
    assert options == BootstrapOptions(
        datastore_root="/flowkit",
        package_id=ref.package_id,
        archive=ref.archive_path,
        archive_sha256=ref.archive_sha256,
        payload=ref.payload_path,
        payload_sha256=ref.payload_sha256,
        python_version=ref.python_version,
        cloudpickle_version=ref.cloudpickle_version,
    )
    with_cache = bootstrap_command(ref, [], datastore_mount="/flowkit", cache_dir="/cache")
    assert parse_arguments(with_cache[2:])[0].cache_dir == "/cache"


def test_a_missing_archive_is_reported_clearly(published: tuple[PackageRef, Path, Path], tmp_path: Path) -> None:
    ref, root, marker = published
    (root / ref.archive_path).unlink()
    result = _bootstrap(ref, root, tmp_path / "cache", tmp_path / "cwd")
    assert result.returncode == EXIT_BOOTSTRAP_FAILED
    assert f"cannot read {root / ref.archive_path}" in result.stderr
    assert not marker.exists()


def test_bootstrap_arguments_are_checked() -> None:
    with pytest.raises(BootstrapError, match="missing '--'"):
        parse_arguments(["--package-id", "x"])
    with pytest.raises(BootstrapError, match="unknown bootstrap option '--evil'"):
        parse_arguments(["--evil", "1", "--"])
    with pytest.raises(BootstrapError, match="missing bootstrap options: --datastore-root"):
        parse_arguments(["--package-id", "x", "--"])
