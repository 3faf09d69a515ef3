"""Task output is captured in the datastore and streamed with a `[step/task]` prefix; progress only on a TTY."""

from __future__ import annotations

import os
import pty
import subprocess
import sys
from pathlib import Path

import pytest

from tests.runtime.cli_runner import REPO_ROOT, describe, run_flow_file, write_flow

FLOW = """
import sys
from flowkit import Flow, step


class ChattyFlow(Flow):
    @step
    def start(self):
        self.items = [0, 1]
        print("hello from start")
        print("careful", file=sys.stderr)
        self.next(self.work, foreach="items")

    @step
    def work(self):
        sys.stdout.write(f"item {self.input} without newline")
        self.next(self.join)

    @step
    def join(self, inputs):
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    ChattyFlow()
"""


@pytest.mark.e2e
def test_output_is_captured_and_streamed_with_a_prefix(tmp_path: Path, datastore_root: Path) -> None:
    result, run = run_flow_file(write_flow(tmp_path, FLOW), datastore_root=datastore_root)

    assert result.returncode == 0, describe(result)
    assert "[start/0] hello from start" in result.stdout.splitlines()
    assert "[start/0] careful" in result.stderr.splitlines()
    assert "[work/0.1] item 1 without newline" in result.stdout.splitlines()
    start = run["start"].task
    assert start.stdout == "hello from start\n"
    assert start.stderr == "careful\n"
    assert {task.stdout for task in run["work"].tasks} == {"item 0 without newline", "item 1 without newline"}


@pytest.mark.e2e
def test_progress_is_quiet_without_a_terminal(tmp_path: Path, datastore_root: Path) -> None:
    result, _ = run_flow_file(write_flow(tmp_path, FLOW), datastore_root=datastore_root)

    assert "running" not in result.stdout + result.stderr
    assert "\x1b[" not in result.stdout + result.stderr, "no terminal control codes in a pipe"


@pytest.mark.e2e
def test_progress_appears_on_a_terminal(tmp_path: Path, datastore_root: Path) -> None:
    flow_file = write_flow(tmp_path, FLOW)
    controller, terminal = pty.openpty()
    env = {**os.environ, "FLOWKIT_DATASTORE_ROOT": str(datastore_root), "PYTHONPATH": str(REPO_ROOT), "TERM": "xterm"}
    process = subprocess.Popen(
        [sys.executable, str(flow_file), "run"],
        stdin=terminal,
        stdout=terminal,
        stderr=terminal,
        env=env,
        cwd=tmp_path,
    )
    os.close(terminal)
    chunks = []
    while True:
        try:
            chunk = os.read(controller, 65536)
        except OSError:  # EIO: every writer closed the terminal
            break
        if not chunk:
            break
        chunks.append(chunk)
    os.close(controller)
    assert process.wait(timeout=120) == 0
    screen = b"".join(chunks).decode(errors="replace")
    assert "ChattyFlow/" in screen and "done" in screen and "running" in screen
    assert "hello from start" in screen
