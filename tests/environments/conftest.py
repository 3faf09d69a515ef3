"""Fixtures of the environment tests: conda-lock's solver double, a stand-in installer, flows written to disk."""

from __future__ import annotations

import importlib.util
import json
import sys
import textwrap
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.environments.installer_double import install_standin, standin_path
from tests.environments.solver_double import SolverDouble

DATA = Path(__file__).parent / "data"
#: A conda-lock lockfile shipped with the tests: linux-64 and osx-arm64, conda and pip packages.
TWO_PLATFORM_LOCKFILE = DATA / "two-platform.conda-lock.yml"


@pytest.fixture
def solver(monkeypatch: pytest.MonkeyPatch) -> SolverDouble:
    """conda-lock with its conda and PyPI solvers replaced by the double (everything else is conda-lock's code)."""
    import conda_lock.conda_lock

    double = SolverDouble()
    monkeypatch.setattr(conda_lock.conda_lock, "solve_conda", double.solve_conda)
    monkeypatch.setattr(conda_lock.conda_lock, "solve_pypi", double.solve_pypi)
    return double


@pytest.fixture
def mapping_url(tmp_path: Path) -> str:
    """An empty PyPI-to-conda name mapping, in place of the one conda-lock downloads."""
    path = tmp_path / "pypi-mapping.json"
    path.write_text("{}")
    return str(path)


@dataclass
class Standin:
    """The stand-in installer on PATH and the log of its calls."""

    bin_dir: Path
    log: Path

    def calls(self) -> list[list[str]]:
        if not self.log.exists():
            return []
        return [json.loads(line)["argv"] for line in self.log.read_text().splitlines()]

    def creates(self) -> list[list[str]]:
        return [argv for argv in self.calls() if argv[1:2] == ["create"]]


@pytest.fixture
def standin(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Standin:
    """A recording `micromamba` stand-in as the only installer on PATH."""
    bin_dir = tmp_path / "standin-bin"
    install_standin(bin_dir)
    log = tmp_path / "standin.log"
    monkeypatch.setenv("PATH", standin_path(bin_dir))
    monkeypatch.setenv("STANDIN_LOG", str(log))
    return Standin(bin_dir, log)


FlowFactory = Callable[..., type]

FLOW_HEADER = """\
from flowkit import Flow, conda, kubernetes, step
"""


@pytest.fixture
def write_flow(tmp_path: Path) -> Iterator[FlowFactory]:
    """Write a flow module (and optional side files) into its own directory and import its class."""
    imported: list[str] = []

    def factory(body: str, *, class_name: str, files: dict[str, str] | None = None, directory: str = "flow") -> type:
        flow_dir = tmp_path / directory
        flow_dir.mkdir(exist_ok=True)
        for name, content in (files or {}).items():
            (flow_dir / name).write_text(textwrap.dedent(content))
        path = flow_dir / f"{class_name.lower()}_{len(imported)}.py"
        path.write_text(FLOW_HEADER + textwrap.dedent(body))
        spec = importlib.util.spec_from_file_location(path.stem, path)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[path.stem] = module
        imported.append(path.stem)
        spec.loader.exec_module(module)
        flow_cls: type = getattr(module, class_name)
        return flow_cls

    yield factory
    for name in imported:
        sys.modules.pop(name, None)


INLINE_FLOW = """
@conda(python="3.10", packages={"numpy": "1.26.*"}, pip=["requests==2.31.0"], platforms=["linux-64", "osx-arm64"])
class InlineFlow(Flow):
    @step
    def start(self):
        self.next(self.train)

    @conda(materialize="pvc")
    @step
    def train(self):
        self.next(self.end)

    @step
    def end(self):
        pass
"""
