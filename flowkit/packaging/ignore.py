"""Which files of a project go into its code package.

The rules follow what a user already wrote for git: every ``.gitignore`` (nested ones apply below their own
directory, deeper files win, ``!`` re-includes) plus ``.flowkitignore`` files with the same syntax, read after the
``.gitignore`` of the same directory so they can override it. They are parsed with pathspec rather than by asking
git, so a project that is not a git checkout, or a pod without git, gets the same answer.

On top of that, a few things are never shipped whatever the ignore files say: version-control metadata, bytecode,
virtual environments (any directory holding a ``pyvenv.cfg``, or a conda environment's ``conda-meta``), notebook
checkpoints, flowkit datastores (``.flowkit``, or any directory laid out as one) and tool caches. They are either
large, machine-specific, or both.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pathspec

IGNORE_FILE_NAMES = (".gitignore", ".flowkitignore")

BUILTIN_IGNORED_DIR_NAMES = frozenset(
    {
        ".git",
        "__pycache__",
        ".ipynb_checkpoints",
        ".flowkit",
        ".nox",
        ".tox",
        ".mypy_cache",
        ".pytest_cache",
        ".ruff_cache",
    }
)
BUILTIN_IGNORED_FILE_NAMES = frozenset({".git", ".DS_Store"})
BUILTIN_IGNORED_SUFFIXES = (".pyc", ".pyo")
# A directory holding one of these is a Python environment (virtualenv, conda): installed packages, not source.
ENVIRONMENT_DIR_MARKERS = ("pyvenv.cfg", "conda-meta")
# ... and these mark a flowkit datastore under another name than .flowkit (shipping one would grow every package by
# the previous packages and artifacts).
GENERATED_DIR_MARKERS = (*ENVIRONMENT_DIR_MARKERS, "blobs/sha256", "packages/sha256")


@dataclass(frozen=True)
class ProjectFile:
    """A file selected for shipping: where it is on disk and where it goes in the package."""

    relpath: str  # POSIX path relative to the project root
    path: Path
    size: int
    executable: bool


@dataclass(frozen=True)
class ProjectScan:
    """The result of walking a project: the files to ship, and the symlinks and special files left out."""

    files: list[ProjectFile]
    skipped: list[str]


@dataclass(frozen=True)
class _ScopedSpec:
    """The ignore patterns of one directory; they match paths relative to that directory."""

    base: str  # POSIX path of the directory relative to the root, "" for the root itself
    spec: pathspec.GitIgnoreSpec


def _read_directory_spec(directory: Path, base: str) -> _ScopedSpec | None:
    lines: list[str] = []
    for name in IGNORE_FILE_NAMES:
        ignore_file = directory / name
        if ignore_file.is_file():
            lines.extend(ignore_file.read_text(encoding="utf-8", errors="replace").splitlines())
    if not lines:
        return None
    return _ScopedSpec(base, pathspec.GitIgnoreSpec.from_lines(lines))


def _is_ignored(relpath: str, is_dir: bool, specs: list[_ScopedSpec]) -> bool:
    """Apply every enclosing directory's patterns, outermost first; the last decisive match wins, as in git."""
    ignored = False
    for scoped in specs:
        local = relpath[len(scoped.base) + 1 :] if scoped.base else relpath
        result = scoped.spec.check_file(local + "/" if is_dir else local)
        if result.include is not None:
            ignored = result.include
    return ignored


def _is_builtin_ignored_dir(entry: os.DirEntry[str]) -> bool:
    if entry.name in BUILTIN_IGNORED_DIR_NAMES:
        return True
    return any(os.path.exists(os.path.join(entry.path, marker)) for marker in GENERATED_DIR_MARKERS)


def _is_builtin_ignored_file(name: str) -> bool:
    return name in BUILTIN_IGNORED_FILE_NAMES or name.endswith(BUILTIN_IGNORED_SUFFIXES)


def scan_project(root: Path) -> ProjectScan:
    """Walk ``root`` and return every file to ship, sorted by relative path.

    Ignored directories are pruned without being entered (a virtualenv or a data directory can hold far more files
    than the project), which also matches git: a file inside an ignored directory cannot be re-included.
    """
    files: list[ProjectFile] = []
    skipped: list[str] = []
    for relpath, entry in _walk(root, "", []):
        # Only regular files are shipped: a symlink may point anywhere (often at a large data set), and a fifo or
        # socket has no content to ship.
        if not entry.is_file(follow_symlinks=False):
            skipped.append(relpath)
            continue
        stat = entry.stat(follow_symlinks=False)
        files.append(ProjectFile(relpath, Path(entry.path), stat.st_size, bool(stat.st_mode & 0o111)))
    files.sort(key=lambda item: item.relpath)
    skipped.sort()
    return ProjectScan(files, skipped)


def _walk(directory: Path, base: str, specs: list[_ScopedSpec]) -> Iterator[tuple[str, os.DirEntry[str]]]:
    own = _read_directory_spec(directory, base)
    active = [*specs, own] if own is not None else specs
    with os.scandir(directory) as entries:
        children = sorted(entries, key=lambda entry: entry.name)
    for entry in children:
        relpath = f"{base}/{entry.name}" if base else entry.name
        if entry.is_dir(follow_symlinks=False):
            if _is_builtin_ignored_dir(entry) or _is_ignored(relpath, True, active):
                continue
            yield from _walk(Path(entry.path), relpath, active)
        elif not _is_builtin_ignored_file(entry.name) and not _is_ignored(relpath, False, active):
            yield relpath, entry
