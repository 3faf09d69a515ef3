"""Which project files are shipped: ignore files (nested, negated, .flowkitignore) and the built-in exclusions."""

from __future__ import annotations

import os
from pathlib import Path

from flowkit.packaging.ignore import scan_project


def _touch(root: Path, *relpaths: str) -> None:
    for relpath in relpaths:
        path = root / relpath
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(relpath)


def _shipped(root: Path) -> list[str]:
    return [item.relpath for item in scan_project(root).files]


def test_builtin_ignores_drop_vcs_bytecode_environments_checkpoints_and_datastores(tmp_path: Path) -> None:
    _touch(
        tmp_path,
        "flow.py",
        ".git/config",
        "pkg/__pycache__/mod.cpython-311.pyc",
        "pkg/stray.pyc",
        "pkg/mod.py",
        ".venv/lib/site.py",
        "env-anywhere/pyvenv.cfg",
        "env-anywhere/lib/x.py",
        "condaenv/conda-meta/history",
        "notebooks/.ipynb_checkpoints/a-checkpoint.ipynb",
        "notebooks/a.ipynb",
        ".flowkit/blobs/sha256/ab/abc",
        "my-datastore/blobs/sha256/ab/abc",
        "shared/packages/sha256/0123/code.tar.gz",
        ".nox/tests/bin/python",
        ".tox/py311/x",
    )
    (tmp_path / ".venv" / "pyvenv.cfg").write_text("home = /usr/bin")
    assert _shipped(tmp_path) == ["flow.py", "notebooks/a.ipynb", "pkg/mod.py"]


def test_gitignore_and_flowkitignore_patterns_apply(tmp_path: Path) -> None:
    _touch(tmp_path, "flow.py", "data/big.csv", "logs/run.log", "keep.log", "model.bin", "notes.txt")
    (tmp_path / ".gitignore").write_text("data/\n*.log\n!keep.log\n")
    (tmp_path / ".flowkitignore").write_text("*.bin\n")
    assert _shipped(tmp_path) == [".flowkitignore", ".gitignore", "flow.py", "keep.log", "notes.txt"]


def test_nested_gitignore_applies_below_its_directory_and_can_reinclude(tmp_path: Path) -> None:
    _touch(tmp_path, "a.tmp", "sub/b.tmp", "sub/keep.tmp", "sub/deeper/c.out", "other/c.out")
    (tmp_path / ".gitignore").write_text("*.tmp\n")
    (tmp_path / "sub" / ".gitignore").write_text("!keep.tmp\n/deeper/*.out\n")
    assert _shipped(tmp_path) == [".gitignore", "other/c.out", "sub/.gitignore", "sub/keep.tmp"]


def test_flowkitignore_overrides_gitignore_of_the_same_directory(tmp_path: Path) -> None:
    _touch(tmp_path, "generated/schema.py", "generated/cache.bin")
    (tmp_path / ".gitignore").write_text("generated/*\n")
    (tmp_path / ".flowkitignore").write_text("!generated/schema.py\n")
    assert "generated/schema.py" in _shipped(tmp_path)
    assert "generated/cache.bin" not in _shipped(tmp_path)


def test_a_file_inside_an_ignored_directory_cannot_be_reincluded(tmp_path: Path) -> None:
    _touch(tmp_path, "build/keep.py")
    (tmp_path / ".gitignore").write_text("build/\n!build/keep.py\n")
    assert _shipped(tmp_path) == [".gitignore"]


def test_symlinks_and_special_files_are_skipped_and_reported(tmp_path: Path) -> None:
    _touch(tmp_path, "flow.py")
    outside = tmp_path.parent / f"{tmp_path.name}-outside.txt"
    outside.write_text("secret")
    (tmp_path / "link.txt").symlink_to(outside)
    (tmp_path / "linkdir").symlink_to(tmp_path.parent)
    os.mkfifo(tmp_path / "pipe")
    scan = scan_project(tmp_path)
    assert [item.relpath for item in scan.files] == ["flow.py"]
    assert scan.skipped == ["link.txt", "linkdir", "pipe"]


def test_executable_bit_is_recorded(tmp_path: Path) -> None:
    _touch(tmp_path, "run.sh", "lib.py")
    (tmp_path / "run.sh").chmod(0o750)
    executable = {item.relpath: item.executable for item in scan_project(tmp_path).files}
    assert executable == {"lib.py": False, "run.sh": True}
