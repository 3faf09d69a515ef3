"""Flows run from their code package through the bootstrap, in fresh processes that know nothing of the project."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from flowkit.datastore import DataStore
from flowkit.identity import TaskRef
from flowkit.packaging import PackageRef, bootstrap_command, build_package, build_payload, publish_to_dir
from flowkit.packaging.bootstrap import SCRIPT_PATH
from tests.packaging.conftest import ref_from_package_output

ImportFlow = Callable[..., type]
EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "multifile"
pytestmark = pytest.mark.e2e


def _run_steps(ref: PackageRef, datastore: Path, steps: list[str], params: dict[str, str], workdir: Path) -> None:
    """Run each step once, in order, as a pod would: `python -c <bootstrap>` with the project nowhere in sight."""
    workdir.mkdir(exist_ok=True)
    env = {name: value for name, value in os.environ.items() if name not in ("PYTHONPATH", "FLOWKIT_DATASTORE_ROOT")}
    env["FLOWKIT_PACKAGE_CACHE"] = str(workdir / "cache")
    for step in steps:
        task_argv = ["--datastore-root", str(datastore), "--run-id", "r1", "--step", step]
        if step == "start":
            task_argv += [arg for name, value in params.items() for arg in ("--param", f"{name}={value}")]
        command = bootstrap_command(
            ref, task_argv, datastore_mount=str(datastore), python=sys.executable, script=str(SCRIPT_PATH)
        )
        result = subprocess.run(command, cwd=workdir, env=env, capture_output=True, text=True, check=False)
        assert result.returncode == 0, f"{step}: {result.stdout}\n{result.stderr}"


def _artifact(datastore: Path, flow: str, step: str, name: str) -> object:
    store = DataStore(datastore)
    record = store.successful_record(TaskRef(flow, "r1", step))
    return store.blobs.load(record.artifacts[name].sha256)


def _copy_example(tmp_path: Path) -> Path:
    project = tmp_path / "project"
    shutil.copytree(EXAMPLE, project, ignore=shutil.ignore_patterns("__pycache__"))
    return project


def test_multifile_example_imported_as_a_module_runs_from_the_package(tmp_path: Path, import_flow: ImportFlow) -> None:
    project = _copy_example(tmp_path)
    flow_cls = import_flow(project, "trainflow")
    datastore = tmp_path / "datastore"
    package = build_package(flow_cls, project)
    ref = publish_to_dir(package, build_payload(flow_cls, project), datastore)
    _run_steps(ref, datastore, ["start", "end"], {"degree": "3"}, tmp_path / "pod")
    assert _artifact(datastore, "MultiFileFlow", "end", "column_sums") == [5.0, 7.5, 12.5]
    record = DataStore(datastore).successful_record(TaskRef("MultiFileFlow", "r1", "end"))
    assert record.code_package_id == package.package_id


def test_multifile_example_packaged_by_its_cli_runs_from_the_package(tmp_path: Path) -> None:
    """`python trainflow.py package --output DIR`: the class lives in __main__; the pod imports ``trainflow``."""
    project = _copy_example(tmp_path)
    datastore = tmp_path / "datastore"
    result = subprocess.run(
        [sys.executable, "trainflow.py", "package", "--output", str(datastore)],
        cwd=project,
        capture_output=True,
        text=True,
        check=True,
    )
    assert re.search(r"-rw-r--r--\s+\d+\s+code/mylib/features\.py", result.stdout)
    ref = ref_from_package_output(result.stdout)
    assert ref.flow_reference == "trainflow:MultiFileFlow"
    _run_steps(ref, datastore, ["start", "end"], {}, tmp_path / "pod")
    assert _artifact(datastore, "MultiFileFlow", "start", "features")[-1] == [2.0, 4.0]  # type: ignore[index]
    assert _artifact(datastore, "MultiFileFlow", "end", "column_sums") == [5.0, 7.5]


NOTEBOOK_CELLS = [
    # Cell 1: imports and a constant.
    "from flowkit import Flow, Parameter, step\nfrom mylib.features import build\nOFFSET = 100",
    # Cell 2: a helper defined in its own cell.
    "def shifted(values):\n    return [value + OFFSET for value in values]",
    # Cell 3: the flow, using both the helper and the project's library.
    """class NotebookFlow(Flow):
    scale = Parameter("scale", default=2)

    @step
    def start(self):
        self.values = shifted([self.scale, 2 * self.scale])
        self.next(self.end)

    @step
    def end(self):
        self.squares = [row[1] for row in build(self.values)]""",
    # Cell 4: package and publish from the kernel.
    """import json, os
from flowkit.packaging import build_package, build_payload, publish_to_dir
ref = publish_to_dir(build_package(NotebookFlow), build_payload(NotebookFlow), os.environ["PACKAGING_TEST_DATASTORE"])
open("ref.json", "w").write(ref.model_dump_json())""",
]


def test_a_flow_defined_across_notebook_cells_runs_from_the_package(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import nbformat
    from nbclient import NotebookClient

    project = tmp_path / "notebooks"
    shutil.copytree(EXAMPLE / "mylib", project / "mylib", ignore=shutil.ignore_patterns("__pycache__"))
    datastore = tmp_path / "datastore"
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(source) for source in NOTEBOOK_CELLS])
    os.environ["PACKAGING_TEST_DATASTORE"] = str(datastore)
    try:
        NotebookClient(
            notebook, timeout=120, kernel_name="python3", resources={"metadata": {"path": str(project)}}
        ).execute()
    finally:
        del os.environ["PACKAGING_TEST_DATASTORE"]
    ref = PackageRef.model_validate_json((project / "ref.json").read_text())
    _run_steps(ref, datastore, ["start", "end"], {"scale": "5"}, tmp_path / "pod")
    assert _artifact(datastore, "NotebookFlow", "end", "squares") == [105**2, 110**2]
