"""The pod path needs nothing but a CPython: bootstrap, task executor, datastore and the flow's own code run on the
standard library plus the code package, with every decorator in use and the heavy libraries importable or not."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from flowkit.datastore import DataStore
from flowkit.datastore.blob_format import ZSTD_MAGIC
from flowkit.identity import TaskRef
from flowkit.packaging import PackageRef, bootstrap_command
from flowkit.packaging.bootstrap import SCRIPT_PATH
from flowkit.packaging.bootstrap_script import EXIT_BOOTSTRAP_FAILED
from flowkit.plain_data import replace
from tests.packaging.conftest import ref_from_package_output, write_project

pytestmark = pytest.mark.e2e

NOT_ON_THE_POD_PATH = ["pydantic", "pydantic_core", "zstandard", "click", "rich", "yaml", "hera", "kubernetes"]

# Installed as sitecustomize: every import of a forbidden package fails, and is written down, so code that catches
# the ImportError (as an optional codec would) is still caught.
BLOCKER = f"""
import sys

FORBIDDEN = {NOT_ON_THE_POD_PATH!r}


class Forbid:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in FORBIDDEN:
            with open(LOG_PATH, "a") as log:
                log.write(name + "\\n")
            raise ModuleNotFoundError(name + " is not on the pod path", name=name)
        return None


sys.meta_path.insert(0, Forbid())
"""

DECORATED_FLOW = """\
from flowkit import Flow, Parameter, argo, catch, current, environment, kubernetes, project, resources, retry, step
from flowkit import timeout

from mylib.features import build


@project(name="podtests")
@argo(ttl_seconds_after_completion=600)
@kubernetes(image="python:3.12-slim", cpu="1", memory="1Gi", pvc={"data": "/data"})
class PodFlow(Flow):
    width = Parameter("width", default=3)

    @retry(times=2, minutes_between_retries=0)
    @timeout(minutes=5)
    @resources(memory="2Gi")
    @environment(vars={"MODE": "pod"})
    @step
    def start(self):
        print("start running", flush=False)
        self.features = build(self.width)
        self.blob = bytes(range(16)) * 65536  # 1 MiB that zstd would shrink a hundredfold
        self.next(self.fan, foreach="features")

    @step
    def fan(self):
        self.square = self.input * self.input + 0 * len(self.blob)
        self.next(self.join)

    @catch(var="problem")
    @step
    def join(self, inputs):
        self.squares = [inp.square for inp in inputs]
        self.next(self.end)

    @step
    def end(self):
        self.total = sum(self.squares)
        self.where = current.step_name
        self.project = current.project_name


if __name__ == "__main__":
    PodFlow()
"""

STEPS = [("start", ""), ("fan", "0"), ("fan", "1"), ("fan", "2"), ("join", ""), ("end", "")]


KILLED_FLOW = """\
import os, signal
from flowkit import Flow, step


class KilledFlow(Flow):
    @step
    def start(self):
        print("printed before the kill")
        os.kill(os.getpid(), signal.SIGKILL)  # as the OOM killer would: no chance to flush anything
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    KilledFlow()
"""


def _publish_script_flow(tmp_path: Path, source: str = DECORATED_FLOW) -> tuple[PackageRef, Path]:
    """Package the flow as its user would: ``python flow.py package --output DATASTORE`` (the class in __main__)."""
    project = tmp_path / "project"
    write_project(project)
    (project / "flow.py").write_text(source)
    datastore = tmp_path / "datastore"
    published = subprocess.run(
        [sys.executable, "flow.py", "package", "--output", str(datastore)],
        cwd=project,
        capture_output=True,
        text=True,
        check=True,
    )
    return ref_from_package_output(published.stdout), datastore


def _run_pod(
    ref: PackageRef, datastore: Path, step: str, index: str, workdir: Path, blocked_log: Path, *, bare: bool = False
) -> subprocess.CompletedProcess[str]:
    """Run one task as its pod would, with the forbidden packages importable-but-blocked in the interpreter; or,
    ``bare``, as on an image with nothing but a CPython (``-I -S``: no site-packages, nor the blocker, loaded)."""
    startup = workdir / "startup"
    startup.mkdir(parents=True, exist_ok=True)
    (startup / "sitecustomize.py").write_text(BLOCKER.replace("LOG_PATH", repr(str(blocked_log))))
    task_argv = ["--datastore-root", str(datastore), "--run-id", "r1", "--step", step, "--tee-logs"]
    if index:
        task_argv += ["--index-path", index]
    command = bootstrap_command(
        ref, task_argv, datastore_mount=str(datastore), python=sys.executable, script=str(SCRIPT_PATH)
    )
    if bare:
        command[1:1] = ["-I", "-S"]
    env = {
        name: value for name, value in os.environ.items() if name not in ("FLOWKIT_DATASTORE_ROOT", "PYTHONUNBUFFERED")
    }
    env.update(PYTHONPATH=str(startup), FLOWKIT_PACKAGE_CACHE=str(workdir / "cache"))
    return subprocess.run(command, cwd=workdir, env=env, capture_output=True, text=True, check=False)


def test_a_decorated_flow_runs_in_a_pod_without_importing_any_heavy_library(tmp_path: Path) -> None:
    ref, datastore = _publish_script_flow(tmp_path)
    assert ref.flow_reference == "flow:PodFlow"
    blocked = tmp_path / "blocked.log"
    for step, index in STEPS:
        result = _run_pod(ref, datastore, step, index, tmp_path / "pod", blocked)
        assert result.returncode == 0, f"{step}[{index}]: {result.stderr}"
    assert not blocked.exists(), f"imported on the pod path: {blocked.read_text()}"

    store = DataStore(datastore)
    end = store.successful_record(TaskRef("PodFlow", "r1", "end"))
    assert store.load_artifact(end.artifacts["total"], artifact="total", task="end") == 0**2 + 1**2 + 4**2
    assert store.load_artifact(end.artifacts["where"], artifact="where", task="end") == "end"
    assert store.load_artifact(end.artifacts["project"], artifact="project", task="end") == "podtests"
    start = store.successful_record(TaskRef("PodFlow", "r1", "start"))
    # The specs the pod recorded are the ones validated where the package was built.
    assert start.spec is not None
    assert start.spec["retry"]["times"] == 2
    assert start.spec["timeout"] == {"seconds": 0, "minutes": 5, "hours": 0}
    assert start.spec["kubernetes"]["memory"] == "2Gi"
    assert start.spec["environment_vars"] == {"MODE": "pod"}
    join = store.successful_record(TaskRef("PodFlow", "r1", "join"))
    assert join.spec is not None and join.spec["catch"] == {"var": "problem", "print_exception": True}
    # A compressible artifact written in a pod is stored as a plain pickle, which every CPython reads.
    blob = store.blobs.path(start.artifacts["blob"].sha256)
    assert blob.read_bytes()[:4] != ZSTD_MAGIC
    assert "start running" in store.read_log(TaskRef("PodFlow", "r1", "start"), 0, "out")


def test_an_artifact_whose_codec_the_pod_lacks_fails_in_one_line_naming_artifact_step_and_codec(
    tmp_path: Path,
) -> None:
    """A run started on a laptop that compresses (zstd), continued in a pod that has no zstd."""
    ref, datastore = _publish_script_flow(tmp_path)
    blocked = tmp_path / "blocked.log"
    assert _run_pod(ref, datastore, "start", "", tmp_path / "pod", blocked).returncode == 0
    store = DataStore(datastore)
    start = TaskRef("PodFlow", "r1", "start")
    record = store.successful_record(start)
    compressed = store.put_artifact(bytes(range(16)) * 65536)  # written here, where zstandard is installed
    blob = store.blobs.path(compressed.sha256)
    assert blob.read_bytes()[:4] == ZSTD_MAGIC
    store.commit(replace(record, attempt=1, artifacts={**record.artifacts, "blob": compressed}))
    result = _run_pod(ref, datastore, "fan", "0", tmp_path / "pod", blocked)
    assert result.returncode == 1
    failed = store.read_record(TaskRef("PodFlow", "r1", "fan", (0,)), 0)
    assert failed.error is not None
    message = failed.error.message
    assert "\n" not in message
    assert message.startswith(f"artifact 'blob' of task PodFlow/r1/fan/0.0: blob {blob}")
    assert message.endswith(" is compressed with zstd, a codec this Python lacks: install 'zstandard'")
    assert blocked.read_text().split() == ["zstandard"]


def test_a_line_printed_in_a_pod_is_logged_at_once_and_survives_a_kill(tmp_path: Path) -> None:
    ref, datastore = _publish_script_flow(tmp_path, KILLED_FLOW)
    result = _run_pod(ref, datastore, "start", "", tmp_path / "pod", tmp_path / "blocked.log")
    assert result.returncode == 1
    assert "printed before the kill\n" in result.stdout, "the pod's own log has the line"
    stored = DataStore(datastore).read_log(TaskRef("KilledFlow", "r1", "start"), 0, "out")
    assert stored.endswith("Z printed before the kill\n"), "and so has the stored copy, stamped"


LEAN_FLOW = """\
import sys

from flowkit import Flow, step

ONLY_OFF_THE_POD_PATH = (
    "cloudpickle",
    "pickle",
    "hashlib",
    "dataclasses",
    "inspect",
    "traceback",
    "importlib.util",
    "flowkit.datastore.sweep",
    "flowkit.packaging.bootstrap_script",
    "flowkit.graph.parse",
    "flowkit.graph.validate",
    "flowkit.cli.main",
)


class LeanFlow(Flow):
    @step
    def start(self):
        self.loaded_before_the_step = [name for name in ONLY_OFF_THE_POD_PATH if name in sys.modules]
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    LeanFlow()
"""


def test_a_flow_travelling_by_reference_reaches_its_step_without_cloudpickle_or_the_graph_parser(
    tmp_path: Path,
) -> None:
    """A pod's start-up cost: cloudpickle is read by a flow pickled by value only, and the graph and specs come from
    the package, so neither cloudpickle nor the source parser is imported before the step's first line; nor pickle
    and hashlib by a task that has stored and loaded no artifact yet, nor dataclasses (with inspect) by anything, nor
    traceback while nothing failed, nor importlib.util, the temporary-file sweep or the bootstrap script a second time
    as a module."""
    ref, datastore = _publish_script_flow(tmp_path, LEAN_FLOW)
    assert ref.flow_reference == "flow:LeanFlow" and ref.payload_path is None
    for _pod in ("extracts the package (and hashes it)", "finds it extracted: a warm start, the common one"):
        result = _run_pod(ref, datastore, "start", "", tmp_path / "pod", tmp_path / "blocked.log", bare=True)
        assert result.returncode == 0, result.stderr
    store = DataStore(datastore)
    start = store.successful_record(TaskRef("LeanFlow", "r1", "start"))
    assert start.attempt == 1, "the warm pod's record"
    loaded = store.load_artifact(start.artifacts["loaded_before_the_step"], artifact="loaded", task="start")
    assert loaded == []


def test_a_foreign_cloudpickle_is_refused_for_a_flow_travelling_by_reference_too(tmp_path: Path) -> None:
    """Not importing cloudpickle for such a flow must not let a copy the image imported at start-up through."""
    ref, datastore = _publish_script_flow(tmp_path, LEAN_FLOW)
    startup = tmp_path / "startup"
    startup.mkdir()
    (startup / "sitecustomize.py").write_text("import cloudpickle\n")
    task_argv = ["--datastore-root", str(datastore), "--run-id", "r1", "--step", "start"]
    command = bootstrap_command(
        ref, task_argv, datastore_mount=str(datastore), python=sys.executable, script=str(SCRIPT_PATH)
    )
    env = {**os.environ, "PYTHONPATH": str(startup), "FLOWKIT_PACKAGE_CACHE": str(tmp_path / "cache")}
    result = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    assert result.returncode == EXIT_BOOTSTRAP_FAILED
    assert (
        "cloudpickle from" in result.stderr and "were imported before the package was put on sys.path" in result.stderr
    )


def test_import_flowkit_loads_only_the_script_error_hook() -> None:
    """``import flowkit`` runs in every pod (the flow file's ``from flowkit import ...``): it loads no settings, no
    pathlib and no other flowkit module until a name is used."""
    watched = "m.startswith('flowkit') or m == 'pathlib'"
    probe = f"import sys, flowkit; print(' '.join(sorted(m for m in sys.modules if {watched})))"
    root = str(Path(__file__).resolve().parents[2])
    loaded = subprocess.run(
        [sys.executable, "-I", "-c", f"import sys; sys.path.insert(0, {root!r}); {probe}"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    assert loaded == ["flowkit", "flowkit.cli", "flowkit.cli.user_errors"]
