"""The `package` command."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

from click.testing import CliRunner

from flowkit.cli.main import build_cli

ImportFlow = Callable[..., type]


def test_package_lists_the_project_files_and_identifies_the_package(project: Path, import_flow: ImportFlow) -> None:
    (project / "data.csv").symlink_to(project / "packflow.py")
    result = CliRunner().invoke(build_cli(import_flow(project)), ["package", "--project-root", str(project)])
    assert result.exit_code == 0, result.output
    assert re.search(r"^package id:\s+[0-9a-f]{64}$", result.output, re.MULTILINE)
    assert re.search(r"^archive sha256:\s+[0-9a-f]{64}$", result.output, re.MULTILINE)
    listed = re.findall(r"^-rw\S+\s+\d+\s+(\S+)$", result.output, re.MULTILINE)
    assert listed == ["code/mylib/__init__.py", "code/mylib/features.py", "code/packflow.py"]
    assert "files of flowkit and cloudpickle under lib/" in result.output
    assert "not shipped (symlink or special file): data.csv" in result.output


def test_package_output_publishes_in_the_datastore_layout(
    project: Path, import_flow: ImportFlow, tmp_path: Path
) -> None:
    output = tmp_path / "out"
    result = CliRunner().invoke(
        build_cli(import_flow(project)), ["package", "--project-root", str(project), "--output", str(output)]
    )
    assert result.exit_code == 0, result.output
    package_id = re.search(r"^package id:\s+(\S+)$", result.output, re.MULTILINE).group(1)  # type: ignore[union-attr]
    assert (output / "packages" / "sha256" / package_id / "code.tar.gz").is_file()
    assert (output / "packages" / "sha256" / package_id / "manifest.json").is_file()
    assert re.search(r"^flow:\s+packflow:PackFlow \(imported from the shipped source\)$", result.output, re.MULTILINE)
    assert not (output / "packages" / "payloads").exists(), "a flow in a file needs no pickled payload"


def test_package_over_the_size_limit_fails_with_a_clear_message(project: Path, import_flow: ImportFlow) -> None:
    (project / "weights.bin").write_bytes(b"\0" * (2 * 1024 * 1024))
    result = CliRunner().invoke(
        build_cli(import_flow(project)), ["package", "--project-root", str(project), "--size-limit", "1"]
    )
    assert result.exit_code != 0
    assert "over the limit of 1.0 MiB" in str(result.exception)
