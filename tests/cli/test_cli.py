"""The command line as users meet it: `python myflow.py ...`, the `flowkit` console script, and clean errors."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import click
import pytest

from flowkit.cli.main import CONSOLE_USAGE, FLOWLESS_COMMANDS, build_cli, flowless_command, load_flow_class
from tests.runtime.cli_runner import (
    REPO_ROOT,
    console_command_in_process,
    describe,
    flow_command_in_process,
    run_flow_file,
    write_flow,
)

EXAMPLES = REPO_ROOT / "examples"
HELLO = EXAMPLES / "hello.py"


def command_paths(group: click.Group) -> list[tuple[str, ...]]:
    """Every command of ``group``, sub-commands of nested groups included, as the words that invoke it."""
    paths: list[tuple[str, ...]] = []
    for name, command in group.commands.items():
        paths.append((name,))
        if isinstance(command, click.Group):
            paths.extend((name, *sub_path) for sub_path in command_paths(command))
    return paths


# Discovered from the CLI itself, so a new command is covered without editing this file.
HELLO_COMMANDS = command_paths(build_cli(load_flow_class(str(HELLO))))


def test_the_command_discovery_sees_every_kind_of_command() -> None:
    assert {("run",), ("show",), ("check",), ("argo-create",), ("env", "lock")} <= set(HELLO_COMMANDS)


@pytest.mark.parametrize("path", HELLO_COMMANDS, ids=" ".join)
def test_every_command_has_help(path: tuple[str, ...], datastore_root: Path) -> None:
    """`python hello.py COMMAND --help` and `flowkit COMMAND hello.py --help` both describe the command."""
    command = build_cli(load_flow_class(str(HELLO)))
    for word in path:
        assert isinstance(command, click.Group)
        command = command.commands[word]
    summary = command.get_short_help_str(limit=40).removesuffix("...")
    assert summary, f"{' '.join(path)} has no help text"

    as_script = flow_command_in_process(HELLO, *path, "--help", datastore_root=datastore_root)
    assert as_script.returncode == 0, describe(as_script)
    assert f"Usage: hello.py {' '.join(path)} [OPTIONS]" in as_script.stdout
    assert summary in " ".join(as_script.stdout.split())

    first, *rest = path
    as_console = console_command_in_process(first, str(HELLO), *rest, "--help", datastore_root=datastore_root)
    assert as_console.returncode == 0, describe(as_console)
    assert f"{' '.join(path)} [OPTIONS]" in as_console.stdout
    assert summary in " ".join(as_console.stdout.split())


@pytest.mark.parametrize("name", sorted(FLOWLESS_COMMANDS))
def test_every_command_without_a_flow_file_has_help(name: str, datastore_root: Path) -> None:
    """`flowkit ui --help` and its kind: the console script's usage names them, and each describes itself."""
    summary = flowless_command(name).get_short_help_str(limit=40).removesuffix("...")
    assert summary, f"flowkit {name} has no help text"
    assert f"flowkit {name}" in CONSOLE_USAGE
    result = console_command_in_process(name, "--help", datastore_root=datastore_root)
    assert result.returncode == 0, describe(result)
    assert f"Usage: flowkit {name} [OPTIONS]" in result.stdout
    assert summary in " ".join(result.stdout.split())


def test_the_top_level_help_lists_every_command(datastore_root: Path) -> None:
    top = flow_command_in_process(HELLO, "--help", datastore_root=datastore_root)
    assert top.returncode == 0 and "Greets someone" in top.stdout
    listed = {line.split()[0] for line in top.stdout.split("Commands:", 1)[1].splitlines() if line.strip()}
    assert listed == {path[0] for path in HELLO_COMMANDS}
    console = console_command_in_process("--help", datastore_root=datastore_root)
    assert console.returncode == 0 and console.stdout.strip() == CONSOLE_USAGE.strip()


def test_each_flow_group_has_only_its_own_parameter_options() -> None:
    """Groups built one after another in one process (a notebook, these tests) never share parameter options."""

    def run_options(flow_file: Path) -> list[str]:
        group = build_cli(load_flow_class(str(flow_file)))
        return [flag for parameter in group.commands["run"].params for flag in parameter.opts]

    run_options(HELLO)
    branch_options = run_options(EXAMPLES / "branch.py")
    hello_options = run_options(HELLO)
    assert "--name" not in branch_options and branch_options.count("--base") == 1
    assert "--base" not in hello_options and hello_options.count("--name") == 1


def test_run_help_lists_the_flow_parameters(datastore_root: Path) -> None:
    run_help = flow_command_in_process(HELLO, "run", "--help", datastore_root=datastore_root).stdout
    assert "--name" in run_help and "Who to greet." in run_help and "--max-workers" in run_help


def test_show_prints_the_graph_and_the_class_level_image_on_start_and_end(datastore_root: Path) -> None:
    result = flow_command_in_process(EXAMPLES / "branch.py", "show", datastore_root=datastore_root)
    assert result.returncode == 0, describe(result)
    assert "start --split--> double, square" in result.stdout
    # One block per step; the flow-wide Argo settings follow, indented.
    blocks = {block.split()[0]: block for block in result.stdout.split("\n\n") if block.strip() and block[0] != " "}
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
    good = flow_command_in_process(EXAMPLES / "digits.py", "check", datastore_root=datastore_root)
    assert good.returncode == 0 and "DigitsFlow: OK" in good.stdout

    bad = flow_command_in_process(write_flow(tmp_path, BAD_GRAPH), "check", datastore_root=datastore_root)
    assert bad.returncode == 1, describe(bad)
    assert "BrokenFlow.start" in bad.stderr and "nowhere" in bad.stderr
    assert "Traceback" not in bad.stderr


def test_a_bad_parameter_value_names_the_flow_and_the_parameter(tmp_path: Path, datastore_root: Path) -> None:
    result = flow_command_in_process(EXAMPLES / "branch.py", "run", "--base", "three", datastore_root=datastore_root)
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
    result = flow_command_in_process(write_flow(tmp_path, REQUIRED), "run", datastore_root=datastore_root)
    assert result.returncode == 2, describe(result)
    assert "--size" in result.stderr and "Traceback" not in result.stderr


def run_console_script(*args: str, datastore_root: Path) -> subprocess.CompletedProcess[str]:
    """`flowkit *args` in a new interpreter, through the entry point pyproject.toml declares for the script."""
    pyproject = (REPO_ROOT / "pyproject.toml").read_text(encoding="utf-8")
    entry_point = re.search(r'^flowkit = "([\w.]+):(\w+)"$', pyproject, re.MULTILINE)
    assert entry_point, "pyproject.toml declares the flowkit console script"
    module, function = entry_point.groups()
    return subprocess.run(
        [sys.executable, "-c", f"import {module}; {module}.{function}()", *args],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "FLOWKIT_DATASTORE_ROOT": str(datastore_root), "PYTHONPATH": str(REPO_ROOT)},
    )


def test_console_script_runs_a_flow_file(datastore_root: Path) -> None:
    result = run_console_script("run", str(EXAMPLES / "hello.py"), "--name", "Console", datastore_root=datastore_root)
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
    ambiguous = console_command_in_process("run", str(flow_file), datastore_root=datastore_root)
    assert ambiguous.returncode == 1
    assert "FirstFlow, SecondFlow" in ambiguous.stderr and "Traceback" not in ambiguous.stderr

    chosen = run_console_script("run", f"{flow_file}:FirstFlow", datastore_root=datastore_root)
    assert chosen.returncode == 0, describe(chosen)
    assert "first ran" in chosen.stdout

    missing = console_command_in_process("show", str(tmp_path / "absent.py"), datastore_root=datastore_root)
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
