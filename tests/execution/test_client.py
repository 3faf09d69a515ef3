"""The client API reads what the executor committed: runs, steps, tasks, artifacts, logs and parameters."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

import flowkit
from flowkit.client import Run, Step, Task
from flowkit.datastore import DataStore, RunRecord, utc_now
from flowkit.errors import DataStoreError
from flowkit.identity import TaskRef
from tests.execution import flows
from tests.execution.conftest import execute_flow


def test_run_data_tasks_and_parameters(datastore_root: Path) -> None:
    execute_flow(flows.ForeachFlow, datastore_root, run_id="c1", parameters={"width": "3"})
    run = Run("ForeachFlow/c1", datastore_root=datastore_root)
    assert run.successful and run.finished
    assert run.parameters == {"width": 3}
    assert run.data.final == 6
    assert "final" in run.data and "nothing" not in run.data
    tasks = run["work"].tasks
    assert [task.id for task in tasks] == ["0.0", "0.1", "0.2"]
    assert [task.index_path for task in tasks] == [(0,), (1,), (2,)]
    assert tasks[1].data.result == (1, "ITEM1", (1,))
    assert tasks[1].status == "succeeded" and tasks[1].attempt == 0
    assert tasks[1].metadata is not None and tasks[1].metadata.step == "work"
    assert {step.name for step in run} == {"start", "work", "join", "end"}
    assert isinstance(run["start"], Step) and isinstance(run["start"].task, Task)
    with pytest.raises(AttributeError, match="has no artifact 'nothing'"):
        _ = run.data.nothing


def test_datastore_root_from_the_environment(datastore_root: Path) -> None:
    execute_flow(flows.LinearFlow, datastore_root, run_id="env1")
    assert Run("LinearFlow/env1").data.total == 1002
    assert flowkit.Run is Run


def test_stdout_stderr_and_failure_state(datastore_root: Path) -> None:
    store = DataStore(datastore_root)
    execute_flow(flows.UnpicklableFlow, datastore_root, run_id="f1")
    coords = TaskRef("UnpicklableFlow", "f1", "start")
    with store.log_writer(coords, 0, "out") as out:
        out.write(b"printed\n")
    run = Run("UnpicklableFlow/f1", datastore_root=datastore_root)
    task = run["start"].task
    assert task.stdout == "printed\n" and task.stderr == ""
    assert task.status == "failed" and not task.successful and task.finished
    exception = task.exception
    assert exception is not None and exception.type == "flowkit.task.scope.ArtifactError"
    assert "artifact 'lock'" in exception.exception
    assert exception.stacktrace is not None and "Traceback" in exception.stacktrace
    assert str(exception) == exception.stacktrace
    assert not run.successful and run.finished
    with pytest.raises(DataStoreError, match="no end task"):
        _ = run.data


def test_latest_and_list_newest_first(datastore_root: Path) -> None:
    store = DataStore(datastore_root)
    now = utc_now()
    for offset, run_id in [(0, "old"), (10, "new"), (5, "mid")]:
        store.write_run(RunRecord(flow="F", run_id=run_id, created_at=now + timedelta(seconds=offset)))
    assert [run.id for run in Run.list("F", datastore_root=datastore_root)] == ["new", "mid", "old"]
    assert Run.latest("F", datastore_root=datastore_root).id == "new"
    run = Run("F/mid", datastore_root=datastore_root)
    assert not run.successful and not run.finished, "a run with no committed task is still running"
    with pytest.raises(DataStoreError, match="no runs of Missing"):
        Run.latest("Missing", datastore_root=datastore_root)
    with pytest.raises(DataStoreError, match="run F/nope not found"):
        Run("F/nope", datastore_root=datastore_root)
    with pytest.raises(ValueError, match="Flow/run_id"):
        Run("just-a-name", datastore_root=datastore_root)
