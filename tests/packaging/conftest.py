"""Fixtures for the packaging tests: small projects on disk, and importing their flows without leaking modules."""

from __future__ import annotations

import importlib
import re
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from flowkit.packaging import PackageRef
from flowkit.packaging.bootstrap_script import LOCK_SUFFIX

FLOW_SOURCE = '''\
from flowkit import Flow, step

from mylib.features import build


class PackFlow(Flow):
    """A flow whose step uses a sibling package of the flow file."""

    @step
    def start(self):
        self.features = build(3)
        self.next(self.end)

    @step
    def end(self):
        self.total = sum(self.features)
'''

FEATURES_SOURCE = """\
def build(n):
    return [i * i for i in range(n)]
"""


def write_project(root: Path) -> Path:
    """A two-module project (flow file + sibling package), like examples/multifile; returns the flow file."""
    (root / "mylib").mkdir(parents=True)
    (root / "mylib" / "__init__.py").write_text("")
    (root / "mylib" / "features.py").write_text(FEATURES_SOURCE)
    flow_file = root / "packflow.py"
    flow_file.write_text(FLOW_SOURCE)
    return flow_file


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A fresh project directory holding the two-module flow."""
    root = tmp_path / "project"
    write_project(root)
    return root


@pytest.fixture
def import_flow() -> Iterator[Callable[[Path, str], type]]:
    """Import ``<dir>/<module>.py`` and return its flow class; the modules and sys.path entry go away afterwards.

    Several projects in one test may define the same module names (two clones), so each import first forgets the
    previous project's modules.
    """
    added_paths: list[str] = []
    project_modules = ("packflow", "trainflow", "mylib")

    def forget() -> None:
        for name in list(sys.modules):
            if name.split(".")[0] in project_modules:
                del sys.modules[name]

    def load(directory: Path, module: str = "packflow") -> type:
        forget()
        sys.path.insert(0, str(directory))
        added_paths.append(str(directory))
        importlib.invalidate_caches()
        loaded = importlib.import_module(module)
        return next(value for value in vars(loaded).values() if isinstance(value, type) and value.__module__ == module)

    yield load
    forget()
    for entry in added_paths:
        sys.path.remove(entry)


def cache_entries(cache: Path) -> list[str]:
    """What the cache holds besides the extraction locks (kept: deleting a lock file races with its next user)."""
    return sorted(entry.name for entry in cache.iterdir() if not entry.name.endswith(LOCK_SUFFIX))


def ref_from_package_output(output: str) -> PackageRef:
    """The reference to a package published by ``python flow.py package --output DIR``, read from what it printed
    (a flow in a file: it travels by reference)."""
    fields = dict(re.findall(r"^(package id|archive sha256|flow):\s+(\S+)", output, re.MULTILINE))
    return PackageRef(
        package_id=fields["package id"],
        archive_sha256=fields["archive sha256"],
        archive_path=f"packages/sha256/{fields['package id']}/code.tar.gz",
        manifest_path=f"packages/sha256/{fields['package id']}/manifest.json",
        flow_reference=fields["flow"],
    )
