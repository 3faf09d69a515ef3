"""THE proof that the pods' commands work: run the emitted template in the Argo emulator and compare with `run`.

The code package is published into the directory that stands for the datastore PVC, every container bootstraps
from it (verifying hashes, extracting, unpickling the flow class) and runs the task executor, and the artifacts of
every task must equal those of a local run of the same flow with the same parameters.
"""

from __future__ import annotations

import inspect
import json
import os
import sys
from pathlib import Path
from typing import Any

import pytest

from flowkit import Flow
from flowkit.authoring.parameter import flow_parameters
from flowkit.authoring.run_context import RunContext
from flowkit.cli.main import load_flow_class
from flowkit.client import Run
from flowkit.compiler import compile_flow
from flowkit.compiler.render import to_dicts
from flowkit.graph import build_graph
from flowkit.packaging import build_package, build_payload, publish_to_dir
from flowkit.packaging.bootstrap_script import EXIT_BOOTSTRAP_FAILED
from tests.support.argo_emulator import EmulatedRun, run_workflow_template

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
BARE_FLAGS = ("-I", "-S")
"""How the pods' bare interpreters start: no site-packages, no PYTHON* variables, as on an image with nothing but a
CPython."""
FLOWS_FILE = Path(__file__).with_name("flows.py")


def shape(name: str) -> type[Flow]:
    """A flow of flows.py imported as a user runs it (``python flows.py``: a top-level module beside its package
    root), so the pods import it from the package by reference."""
    return load_flow_class(f"{FLOWS_FILE}:{name}")


pytestmark = pytest.mark.e2e


def _artifacts(run: Run, steps: list[str]) -> dict[tuple[str, str], dict[str, Any]]:
    """Every artifact of every task of ``steps``, by (step, task id)."""
    found = {}
    for step in steps:
        for task in run[step].tasks:
            assert task.successful, f"{task} did not succeed:\n{task.stderr}"
            found[(step, task.pathspec.rsplit("/", 1)[1])] = {name: getattr(task.data, name) for name in task.data}
    return found


def emulate(
    flow_cls: type,
    tmp_path: Path,
    project_root: Path | None = None,
    context: RunContext | None = None,
    python: str = sys.executable,
    **parameters: Any,
) -> tuple[EmulatedRun, Path]:
    """Publish the package (project root: the flow file's directory unless given) to the PVC directory, compile
    against it (deployed with `context`: user, tags, `@project` branch), and run the template in the emulator, its
    pods on ``python`` (another than this one: bare, isolated from any site-packages)."""
    pvc = tmp_path / "pvc"
    project_root = project_root or Path(inspect.getfile(flow_cls)).parent
    package = build_package(flow_cls, project_root)
    package_ref = publish_to_dir(package, build_payload(flow_cls, project_root), pvc)
    compiled = compile_flow(flow_cls, package=package_ref, context=context)
    manifest = to_dicts(compiled)[0]
    declared = {parameter.name: parameter for parameter in flow_parameters(flow_cls).values()}
    claims = {
        volume["persistentVolumeClaim"]["claimName"]
        for volume in manifest["spec"].get("volumes", [])
        if "persistentVolumeClaim" in volume
    }
    pvc_dirs = {claim: tmp_path / "claims" / claim for claim in claims} | {"flowkit-datastore": pvc}
    for directory in pvc_dirs.values():
        directory.mkdir(parents=True, exist_ok=True)
    emulated = run_workflow_template(
        manifest,
        arguments={name: declared[name].to_json(value) for name, value in parameters.items()},
        pvc_dirs=pvc_dirs,
        workdir=tmp_path / "emulator",
        env={"FLOWKIT_PACKAGE_CACHE": str(tmp_path / "package-cache")},
        python=python,
        # A bare interpreter stands for a plain image, whose pods run as the securityContext's uid (1000).
        python_flags=() if python == sys.executable else BARE_FLAGS,
        pod_users=python != sys.executable,
        config_maps=[compiled.bootstrap_config_map],
    )
    assert emulated.phase == "Succeeded", f"{emulated.message}\n{emulated.logs()}"
    return emulated, pvc


def assert_same_as_local_run(
    flow_cls: type[Flow], tmp_path: Path, python: str = sys.executable, **parameters: Any
) -> tuple[Run, Run]:
    emulated, pvc = emulate(flow_cls, tmp_path, python=python, **parameters)
    argo_run = Run(f"{flow_cls.__name__}/{emulated.workflow_name}", datastore_root=pvc)
    # A local task runs in this process's working directory and HOME: give it the pod's (a writable directory of
    # its own), so flows that write relative paths or ~/.cache leave nothing in the repository or the user's home.
    local_home = tmp_path / "local-home"
    local_home.mkdir()
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(local_home)
        patch.setenv("HOME", str(local_home))
        local_run = flow_cls.run(datastore_root=tmp_path / "local", **parameters)
    graph = build_graph(flow_cls)
    dag_steps = [name for name, node in graph.steps.items() if not node.is_exit_handler]
    local, argo = _artifacts(local_run, dag_steps), _artifacts(argo_run, dag_steps)
    assert sorted(argo) == sorted(local)
    for key, artifacts in local.items():
        assert argo[key] == artifacts, key
    assert argo_run.parameters == local_run.parameters
    return local_run, argo_run


@pytest.mark.parametrize(
    "name", ["LinearFlow", "BranchFlow", "ForeachFlow", "NestedForeachFlow", "BranchInForeachFlow"]
)
def test_emulated_shapes_match_a_local_run(name: str, tmp_path: Path) -> None:
    assert_same_as_local_run(shape(name), tmp_path)


def test_custom_start_and_end_steps_run_like_a_local_run(tmp_path: Path) -> None:
    local_run, argo_run = assert_same_as_local_run(shape("CustomEndsFlow"), tmp_path, greeting="hi")
    assert local_run.successful and argo_run.successful, "the run's outcome is its end step's, whatever its name"
    assert argo_run.data.final == local_run.data.final == "HI WORLD!"


@pytest.mark.parametrize("mode", ["fast", "slow"])
def test_switches_take_the_same_branches_as_a_local_run(mode: str, tmp_path: Path) -> None:
    local_run, argo_run = assert_same_as_local_run(shape("SwitchFlow"), tmp_path, mode=mode)
    path = ["fast"] if mode == "fast" else ["slow", "slower"]
    assert argo_run.data.summary == local_run.data.summary == (path, [3, 1, 9])
    not_taken = {"slow", "slower"} if mode == "fast" else {"fast"}
    assert not_taken.isdisjoint(step.name for step in argo_run), "the branch not taken left no task"
    assert [task.data.parity for task in argo_run["classify"].tasks] == ["odd", "even", "odd"]


def test_foreach_width_comes_from_the_run_not_the_manifest(tmp_path: Path) -> None:
    _, argo_run = assert_same_as_local_run(shape("ForeachFlow"), tmp_path, width=7)
    assert len(argo_run["square"].tasks) == 7
    assert argo_run.data.total == sum(i * i + 1 for i in range(7))


@pytest.mark.parametrize(
    "text",
    ["", "say \"hi\" & 'bye'", "line one\nline two\n", "unicode: é ✓ 日本 🚀", '{"looks": ["like", "json"]}', "{{x}}"],
    ids=["empty", "quotes", "newlines", "unicode", "json-text", "braces"],
)
def test_parameters_arrive_in_the_step_exactly_as_given(text: str, tmp_path: Path) -> None:
    config = {"nested": [None, 1.5, "two\nlines", {"q": '"'}], "none": None}
    _, argo_run = assert_same_as_local_run(shape("LinearFlow"), tmp_path, text=text, config=config, nothing=None)
    assert argo_run.data.received == {"text": text, "number": 3, "config": config, "nothing": None}


def test_retries_deadline_exit_handler_flow_runs_like_a_local_run(tmp_path: Path) -> None:
    _, argo_run = assert_same_as_local_run(shape("OperatedFlow"), tmp_path)
    assert argo_run.data.outputs == [20, 21]
    (report,) = argo_run["report"].tasks
    assert report.data.status == "Succeeded"


def test_the_train_pipeline_example_runs_end_to_end_like_a_local_run(tmp_path: Path) -> None:
    flow_cls = load_flow_class(str(EXAMPLES / "train_pipeline.py"))
    _, argo_run = assert_same_as_local_run(flow_cls, tmp_path, learning_rates=[0.05, 0.2], epochs=50)
    assert len(argo_run["train"].tasks) == 2
    assert json.dumps(argo_run.data.best_learning_rate) in ("0.05", "0.2")
    (notify,) = argo_run["notify"].tasks
    assert notify.data.message.endswith("finished: Succeeded")


def test_a_flow_pickled_by_value_sees_its_task_identity(tmp_path: Path) -> None:
    from tests.argo.flows import NestedForeachFlow

    # tests.argo.flows is outside this project root, so the class travels by value, as a __main__ flow does.
    project = tmp_path / "project"
    project.mkdir()
    emulated, pvc = emulate(NestedForeachFlow, tmp_path, project_root=project)
    argo_run = Run(f"NestedForeachFlow/{emulated.workflow_name}", datastore_root=pvc)
    assert sorted(task.data.cell_value for task in argo_run["cell"].tasks)[0] == "a1:(0, 0)"


def bare_interpreters() -> list[Any]:
    """The CPython 3.10, 3.12 and 3.13 that stand for bare images (installed through pyenv on these machines)."""
    root = Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv")) / "versions"
    found = []
    for minor in ("3.10", "3.12", "3.13"):
        candidates = sorted(root.glob(f"{minor}.*/bin/python3"))
        marks = [] if candidates else [pytest.mark.skip(reason=f"no CPython {minor} under {root}")]
        found.append(pytest.param(str(candidates[-1]) if candidates else minor, id=minor, marks=marks))
    return found


@pytest.mark.parametrize("python", bare_interpreters())
def test_the_miniconda_310_pipeline_runs_on_bare_interpreters_like_a_local_run(python: str, tmp_path: Path) -> None:
    """The pods run a Python other than this one (3.11) with nothing but the standard library: the flow travels by
    reference and nothing on the pod path needs a compiled package."""
    flow_cls = load_flow_class(str(EXAMPLES / "train_pipeline.py"))
    assert_same_as_local_run(flow_cls, tmp_path, python=python, learning_rates=[0.05, 0.2], epochs=50)


@pytest.mark.parametrize("python", bare_interpreters())
def test_a_branch_and_nested_foreach_flow_runs_on_bare_interpreters_like_a_local_run(
    python: str, tmp_path: Path
) -> None:
    local_run, argo_run = assert_same_as_local_run(shape("BranchInNestedForeachFlow"), tmp_path, python=python)
    minor = Path(python).resolve().parents[1].name.rsplit(".", 1)[0]  # .../versions/3.12.1/bin/python3 -> 3.12
    assert f"python {minor} uid 1000\n" in argo_run["start"].task.stdout, "the pods ran the bare interpreter"
    assert argo_run.data.cells == local_run.data.cells == 4


def test_a_bootstrap_failure_is_not_retried(tmp_path: Path) -> None:
    """A package whose archive no longer matches its digest fails the same way on every attempt: exit 3, once."""
    flow_cls = shape("RetriedFlow")
    pvc = tmp_path / "pvc"
    project_root = Path(inspect.getfile(flow_cls)).parent
    ref = publish_to_dir(build_package(flow_cls, project_root), build_payload(flow_cls, project_root), pvc)
    archive = pvc / ref.archive_path
    archive.write_bytes(archive.read_bytes() + b"tampered")
    compiled = compile_flow(flow_cls, package=ref)
    run = run_workflow_template(
        to_dicts(compiled)[0],
        config_maps=[compiled.bootstrap_config_map],
        pvc_dirs={"flowkit-datastore": pvc},
        workdir=tmp_path / "emulator",
        env={"FLOWKIT_PACKAGE_CACHE": str(tmp_path / "package-cache")},
    )
    assert run.phase == "Failed"
    (start,) = [node for node in run.nodes if node.kind == "container"]
    assert [attempt.exit_code for attempt in start.attempts] == [EXIT_BOOTSTRAP_FAILED], "@retry(times=2) unused"
    assert "flowkit bootstrap: archive" in start.attempts[0].stderr
