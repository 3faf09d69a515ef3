"""A committed record never changes: committing is create-once, so a second commit of the same attempt (a process
the step left behind, a stale scheduler) fails and readers keep seeing the first."""

from __future__ import annotations

import os
import time
from datetime import datetime, timezone
from pathlib import Path

import pytest

from flowkit.datastore import AlreadyCommittedError, DataStore, TaskRecord
from flowkit.identity import TaskRef
from flowkit.task.executor import execute_task
from tests.execution import flows


def _record(status: str) -> TaskRecord:
    now = datetime.now(timezone.utc)
    return TaskRecord(flow="F", run_id="1", step="s", task_id="0", status=status, started_at=now, finished_at=now)  # type: ignore[arg-type]


def test_a_second_commit_of_an_attempt_fails_and_changes_nothing(datastore_root: Path) -> None:
    store = DataStore(datastore_root)
    path = store.commit(_record("succeeded"))
    first = path.read_bytes()
    with pytest.raises(AlreadyCommittedError, match=r"F/1/s/0 attempt 0 is already committed"):
        store.commit(_record("failed"))
    assert path.read_bytes() == first
    assert sorted(os.listdir(path.parent)) == ["0.json"], "the losing writer leaves no temporary file"


def test_a_process_forked_by_a_step_cannot_rewrite_its_record(datastore_root: Path, tmp_path: Path) -> None:
    outcome = tmp_path / "outcome"
    pid = os.fork()
    if pid == 0:  # the task process; the step forks again, and both copies return here
        try:
            execute_task(flows.ForkingFlow, datastore_root, TaskRef("ForkingFlow", "r1", "start"))
        except AlreadyCommittedError as error:
            outcome.write_text(str(error))
        finally:
            os._exit(0)
    os.waitpid(pid, 0)
    deadline = time.monotonic() + 30
    while not outcome.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert "already committed" in outcome.read_text()
    store = DataStore(datastore_root)
    record = store.read_record(TaskRef("ForkingFlow", "r1", "start"), 0)
    assert store.load_artifact(record.artifacts["writer"], artifact="writer", task="start") == "parent"
