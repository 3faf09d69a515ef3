"""`tee_output`'s copy of a file descriptor when a process the task started outlives the task."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from flowkit.datastore import DataStore
from flowkit.identity import TaskRef
from flowkit.task import tee

LEFTOVER = "import sys; print('early', flush=True); sys.stdin.readline(); print('late', flush=True)"


def _wait_for(path: Path, text: str) -> None:
    deadline = time.monotonic() + 10
    while text not in path.read_text():
        assert time.monotonic() < deadline, f"{text!r} never reached {path}"
        time.sleep(0.01)


def test_output_of_a_leftover_process_never_lands_in_a_file_opened_after_stop(
    datastore_root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(tee, "_DRAIN_TIMEOUT_SECONDS", 0.05)
    store = DataStore(datastore_root)
    coords = TaskRef("F", "r1", "work")
    target = tmp_path / "container-stream"
    target_fd = os.open(target, os.O_WRONLY | os.O_CREAT, 0o644)
    copy = tee._FdCopy(target_fd, store.log_writer(coords, 0, "out"))
    leftover = subprocess.Popen([sys.executable, "-c", LEFTOVER], stdin=subprocess.PIPE, stdout=target_fd)
    try:
        _wait_for(target, "early\n")
        copy.stop()  # the leftover still holds the pipe: the copy outlives stop()
        assert copy.thread.is_alive()
        unrelated = tmp_path / "opened-after-stop"
        unrelated_fd = os.open(unrelated, os.O_WRONLY | os.O_CREAT, 0o644)  # takes the lowest free descriptor
        assert leftover.stdin is not None
        leftover.stdin.write(b"\n")
        leftover.stdin.close()
        assert leftover.wait(10) == 0
        copy.thread.join(10)
        os.close(unrelated_fd)
    finally:
        leftover.kill()
        os.close(target_fd)
    assert not copy.thread.is_alive()
    assert unrelated.read_text() == "", "late output must not be written through a reused descriptor number"
    assert target.read_text() == "early\nlate\n", "late output still reaches the original stream"
    assert store.read_log(coords, 0, "out") == "early\n", "the published log is not changed afterwards"
    assert sorted(path.name for path in store.task_dir(coords).iterdir()) == ["0.out"], "no orphaned temporary log"
