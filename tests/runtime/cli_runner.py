"""Running flow files the way a user does (`python flow.py run ...`) and reading what the run left behind."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path
from typing import Any
from unittest import mock

REPO_ROOT = Path(__file__).resolve().parents[2]


def write_flow(directory: Path, source: str, name: str = "flow.py") -> Path:
    path = directory / name
    path.write_text(textwrap.dedent(source).lstrip())
    return path


def flow_command(
    flow_file: Path, *args: str, datastore_root: Path, timeout: float = 180, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """`python flow_file *args` with the datastore at `datastore_root`; output captured (so never a TTY)."""
    environment = {**os.environ, "FLOWKIT_DATASTORE_ROOT": str(datastore_root), **(env or {})}
    environment["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO_ROOT), environment.get("PYTHONPATH")]))
    return subprocess.run(
        [sys.executable, str(flow_file), *args],
        cwd=flow_file.parent,
        env=environment,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def flow_command_in_process(flow_file: Path, *args: str, datastore_root: Path) -> subprocess.CompletedProcess[str]:
    """`python flow_file *args` run in this process, for commands that read the flow and print (help, show, check).

    A new interpreter would add nothing there but its start-up time. The result has the shape of
    :func:`flow_command`'s, so :func:`describe` applies; usage lines name the file, as a user sees them.
    """
    from flowkit.cli.main import load_flow_class

    return _in_process(
        [flow_file.name, *args], lambda: load_flow_class(str(flow_file)).main(list(args)), datastore_root
    )


def console_command_in_process(*args: str, datastore_root: Path) -> subprocess.CompletedProcess[str]:
    """`flowkit *args` run in this process, for arguments that name no flow file (or a missing one)."""
    from flowkit.cli.main import main

    return _in_process(["flowkit", *args], lambda: main(list(args)), datastore_root)


def _in_process(
    argv: list[str], entry_point: Callable[[], object], datastore_root: Path
) -> subprocess.CompletedProcess[str]:
    """Call ``entry_point`` (it ends in SystemExit, as a command line does), capturing its output and exit status."""
    from click.testing import CliRunner

    with (
        CliRunner().isolation(env={"FLOWKIT_DATASTORE_ROOT": str(datastore_root)}) as (stdout, stderr, _),
        mock.patch.object(sys, "argv", argv),
    ):
        try:
            entry_point()
            status = 0
        except SystemExit as exit_request:
            code = exit_request.code
            status = 0 if code is None else code if isinstance(code, int) else 1
        return subprocess.CompletedProcess(argv, status, stdout.getvalue().decode(), stderr.getvalue().decode())


def run_flow_file(
    flow_file: Path, *args: str, datastore_root: Path, command: str = "run", **kwargs: Any
) -> tuple[subprocess.CompletedProcess[str], Any]:
    """Run (or resume) a flow file and return the process result and the client `Run` it created."""
    from flowkit.client import Run

    run_id_file = datastore_root.parent / f"run-id-{os.urandom(4).hex()}"
    result = flow_command(
        flow_file, command, *args, "--run-id-file", str(run_id_file), datastore_root=datastore_root, **kwargs
    )
    assert run_id_file.exists(), f"no run started:\n{result.stdout}\n{result.stderr}"
    flow_name = _flow_class_name(flow_file)
    return result, Run(f"{flow_name}/{run_id_file.read_text().strip()}", datastore_root=datastore_root)


def _flow_class_name(flow_file: Path) -> str:
    for line in flow_file.read_text().splitlines():
        if line.startswith("class ") and "(Flow" in line:
            return line.split()[1].split("(")[0]
    raise AssertionError(f"{flow_file} defines no flow class")


def describe(result: subprocess.CompletedProcess[str]) -> str:
    """The process's output, for assertion messages."""
    return f"exit {result.returncode}\n--- stdout\n{result.stdout}\n--- stderr\n{result.stderr}"
