"""The command line as users meet it: `python myflow.py ...`, the `flowkit` console script, and clean errors."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.runtime.cli_runner import REPO_ROOT, describe, flow_command, run_flow_file, write_flow

EXAMPLES = REPO_ROOT / "examples"
COMMANDS = ["run", "resume", "show", "check"]


def console_script() -> str:
    script = Path(sys.executable).with_name("flowkit")
    assert script.exists(), "flowkit is not installed in this environment (pip install -e .)"
    return str(script)


def test_every_command_has_help(datastore_root: Path) -> None:
    top = flow_command(EXAMPLES / "hello.py", "--help", datastore_root=datastore_root)
    assert top.returncode == 0 and "Greets someone" in top.stdout
    for command in COMMANDS:
        result = flow_command(EXAMPLES / "hello.py", command, "--help", datastore_root=datastore_root)
        assert result.returncode == 0, describe(result)
        assert f"hello.py {command} [OPTIONS]" in result.stdout
    run_help = flow_command(EXAMPLES / "hello.py", "run", "--help", datastore_root=datastore_root).stdout
    assert "--name" in run_help and "Who to greet." in run_help and "--max-workers" in run_help


def test_show_prints_the_graph_and_the_class_level_image_on_start_and_end(datastore_root: Path) -> None:
    result = flow_command(EXAMPLES / "branch.py", "show", datastore_root=datastore_root)
    assert result.returncode == 0, describe(result)
    assert "start --split--> double, square" in result.stdout
    blocks = {block.split()[0]: block for block in result.stdout.split("\n\n") if block.strip()}
    assert sorted(blocks) == ["double", "end", "join", "square", "start"]
    for block in blocks.values():  # every step, start and end included, carries the class-level image
        assert "image: python:3.11-slim" in block


BAD_GRAPH = """
from flowkit import Flow, step


class BrokenFlow(Flow):
    @step
    def start(self):
        self.next(self.nowhere)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    BrokenFlow()
"""


def test_check_passes_a_valid_flow_and_lists_errors_of_a_broken_one(tmp_path: Path, datastore_root: Path) -> None:
    good = flow_command(EXAMPLES / "digits.py", "check", datastore_root=datastore_root)
    assert good.returncode == 0 and "DigitsFlow: OK" in good.stdout

    bad = flow_command(write_flow(tmp_path, BAD_GRAPH), "check", datastore_root=datastore_root)
    assert bad.returncode == 1, describe(bad)
    assert "BrokenFlow.start" in bad.stderr and "nowhere" in bad.stderr
    assert "Traceback" not in bad.stderr


def test_a_bad_parameter_value_names_the_flow_and_the_parameter(tmp_path: Path, datastore_root: Path) -> None:
    result = flow_command(EXAMPLES / "branch.py", "run", "--base", "three", datastore_root=datastore_root)
    assert result.returncode == 2, describe(result)
    assert "BranchFlow" in result.stderr and "'base'" in result.stderr and "three" in result.stderr
    assert "Traceback" not in result.stderr
    assert not (datastore_root / "runs").exists(), "nothing runs when the input is bad"


REQUIRED = """
from flowkit import Flow, Parameter, step


class NeedsFlow(Flow):
    size = Parameter("size", type=int, required=True)

    @step
    def start(self):
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    NeedsFlow()
"""


def test_a_missing_required_parameter_is_refused_before_running(tmp_path: Path, datastore_root: Path) -> None:
    result = flow_command(write_flow(tmp_path, REQUIRED), "run", datastore_root=datastore_root)
    assert result.returncode == 2, describe(result)
    assert "--size" in result.stderr and "Traceback" not in result.stderr


def test_console_script_runs_a_flow_file(datastore_root: Path) -> None:
    env = {**os.environ, "FLOWKIT_DATASTORE_ROOT": str(datastore_root)}
    result = subprocess.run(
        [console_script(), "run", str(EXAMPLES / "hello.py"), "--name", "Console"],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert result.returncode == 0, describe(result)
    assert "Hello, Console!" in result.stdout


TWO_FLOWS = """
from flowkit import Flow, step


class FirstFlow(Flow):
    @step
    def start(self):
        self.next(self.end)

    @step
    def end(self):
        print("first ran")


class SecondFlow(FirstFlow):
    pass
"""


def test_console_script_needs_a_class_name_when_a_file_has_several_flows(tmp_path: Path, datastore_root: Path) -> None:
    flow_file = write_flow(tmp_path, TWO_FLOWS, name="two.py")
    env = {**os.environ, "FLOWKIT_DATASTORE_ROOT": str(datastore_root)}
    ambiguous = subprocess.run([console_script(), "run", str(flow_file)], capture_output=True, text=True, env=env)
    assert ambiguous.returncode == 1
    assert "FirstFlow, SecondFlow" in ambiguous.stderr and "Traceback" not in ambiguous.stderr

    chosen = subprocess.run(
        [console_script(), "run", f"{flow_file}:FirstFlow"], capture_output=True, text=True, env=env, timeout=120
    )
    assert chosen.returncode == 0, describe(chosen)
    assert "first ran" in chosen.stdout

    missing = subprocess.run([console_script(), "show", str(tmp_path / "absent.py")], capture_output=True, text=True)
    assert missing.returncode == 1 and "no such flow file" in missing.stderr


def test_importing_a_flow_module_never_starts_the_cli(datastore_root: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-c", "import hello, branch, digits; print('imported', hello.HelloFlow.__name__)", "run"],
        cwd=EXAMPLES,
        capture_output=True,
        text=True,
        env={**os.environ, "FLOWKIT_DATASTORE_ROOT": str(datastore_root)},
    )
    assert result.returncode == 0, describe(result)
    assert result.stdout == "imported HelloFlow\n"
    assert not datastore_root.exists()


PYTHON_API = """
import sys
from flowkit import Flow, Parameter, step
from flowkit.errors import ParameterError


class ScaleFlow(Flow):
    lr = Parameter("lr", default=1.0, type=float)

    @step
    def start(self):
        self.items = [1, 2, 3]
        self.next(self.scale, foreach="items")

    @step
    def scale(self):
        self.scaled = self.input * self.lr
        self.next(self.join)

    @step
    def join(self, inputs):
        self.total = sum(task.scaled for task in inputs)
        self.next(self.end)

    @step
    def end(self):
        pass


run = ScaleFlow.run(lr=0.1, max_workers=2, datastore_root=sys.argv[1])
print("RESULT", type(run).__name__, run.successful, round(run.data.total, 6), run.parameters["lr"])
try:
    ScaleFlow.run(learning_rate=0.1, datastore_root=sys.argv[1])
except ParameterError as error:
    print("REFUSED", error)
"""


@pytest.mark.e2e
def test_flow_run_from_python_returns_the_run(tmp_path: Path, datastore_root: Path) -> None:
    script = write_flow(tmp_path, PYTHON_API, name="script.py")
    result = subprocess.run(
        [sys.executable, str(script), str(datastore_root)],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "PYTHONPATH": str(REPO_ROOT)},
    )
    assert result.returncode == 0, describe(result)
    assert "RESULT Run True 0.6 0.1" in result.stdout
    assert "REFUSED ScaleFlow parameter 'learning_rate'" in result.stdout


def test_run_id_file_names_the_run(tmp_path: Path, datastore_root: Path) -> None:
    result, run = run_flow_file(EXAMPLES / "hello.py", datastore_root=datastore_root)
    assert result.returncode == 0, describe(result)
    assert f"Run {run.pathspec} succeeded." in result.stdout
