"""An error in the user's flow file (syntax, import, decorator argument) is one line with its file and line under
`python flow.py ...` and `flowkit ...`; `--debug` or FLOWKIT_DEBUG shows the traceback; elsewhere it raises as usual."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.runtime.cli_runner import REPO_ROOT, write_flow

pytestmark = pytest.mark.e2e

HEADER = "from flowkit import Flow, step, kubernetes\n"
FLOW_TAIL = """

class F(Flow):
    @step
    def start(self):
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    F()
"""
BAD_DECORATOR = """

class F(Flow):
    @kubernetes(gpu=-1)
    @step
    def start(self):
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    F()
"""
CASES = {
    "import": (HEADER + "import no_such_module_here" + FLOW_TAIL, 2, "ModuleNotFoundError: No module named"),
    "decorator": (HEADER + BAD_DECORATOR, 5, "FlowDefinitionError: F.start (line 5) @kubernetes.gpu: must be >= 0"),
    "syntax": (HEADER + "def broken(:\n    pass\n" + FLOW_TAIL, 2, "SyntaxError: "),
}
CONSOLE = "import sys; from flowkit.cli.main import main; main(sys.argv[1:])"


def _run(tmp_path: Path, command: list[str], **env: str) -> subprocess.CompletedProcess[str]:
    environment = {name: value for name, value in os.environ.items() if name != "FLOWKIT_DEBUG"}
    environment.update(PYTHONPATH=str(REPO_ROOT), **env)
    return subprocess.run([sys.executable, *command], cwd=tmp_path, env=environment, capture_output=True, text=True)


@pytest.mark.parametrize("case", list(CASES))
@pytest.mark.parametrize("entry", ["python flow.py", "flowkit"])
def test_an_error_in_the_flow_file_is_one_line_with_file_and_line(tmp_path: Path, case: str, entry: str) -> None:
    source, line, message = CASES[case]
    flow_file = write_flow(tmp_path, source)
    command = [str(flow_file), "check"] if entry == "python flow.py" else ["-c", CONSOLE, "check", str(flow_file)]
    result = _run(tmp_path, command)
    assert result.returncode == 1
    if entry == "python flow.py" and case == "syntax":
        # Python compiles the script before running any of it (flowkit included): its own four-line report stands.
        assert "Traceback" not in result.stderr and f'File "{flow_file}", line {line}' in result.stderr
        return
    [only_line] = result.stderr.splitlines()
    assert only_line.startswith(f"error: {flow_file}:{line}: ") and message in only_line


@pytest.mark.parametrize("switch", ["--debug", "FLOWKIT_DEBUG"])
@pytest.mark.parametrize("entry", ["python flow.py", "flowkit"])
def test_the_debug_switch_shows_the_traceback(tmp_path: Path, switch: str, entry: str) -> None:
    flow_file = write_flow(tmp_path, CASES["decorator"][0])
    command = [str(flow_file), "check"] if entry == "python flow.py" else ["-c", CONSOLE, "check", str(flow_file)]
    if switch == "--debug":
        result = _run(tmp_path, [*command, "--debug"])
    else:
        result = _run(tmp_path, command, FLOWKIT_DEBUG="1")
    assert result.returncode == 1
    assert "Traceback (most recent call last)" in result.stderr and "@kubernetes.gpu: must be >= 0" in result.stderr


def test_outside_a_script_the_error_raises_as_usual(tmp_path: Path) -> None:
    """As in a notebook: the flow is defined by code that is not a script file, so nothing is installed."""
    source = CASES["decorator"][0].replace('if __name__ == "__main__":\n    F()\n', "")
    result = _run(tmp_path, ["-c", source])
    assert result.returncode == 1
    assert "Traceback (most recent call last)" in result.stderr
    assert "FlowDefinitionError: F.start (line 5) @kubernetes.gpu: must be >= 0" in result.stderr
