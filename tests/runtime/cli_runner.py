"""Running flow files the way a user does (`python flow.py run ...`) and reading what the run left behind."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

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
