"""The client refuses what cannot name a run, step or task before touching any file, and says what is missing."""

from __future__ import annotations

from pathlib import Path

import pytest

from flowkit.client import Run, Step, Task
from flowkit.datastore import DataStore, RunRecord
from flowkit.errors import DataStoreError
from flowkit.identity import TaskRef
from flowkit.task.executor import execute_task
from tests.execution import flows


@pytest.mark.parametrize(
    ("pathspec", "argument"),
    [("../..", "flow name"), ("F/..", "run id"), ("F/.tmp-x", "run id"), ("F/a\\b", "run id"), ("F/r\0", "run id")],
)
def test_a_run_id_that_is_not_one_path_component_is_refused(datastore_root: Path, pathspec: str, argument: str) -> None:
    with pytest.raises(ValueError, match=f"{argument} .* is not a valid name"):
        Run(pathspec, datastore_root=datastore_root)


def test_path_components_are_checked_wherever_the_datastore_builds_a_path(datastore_root: Path) -> None:
    store = DataStore(datastore_root)
    with pytest.raises(ValueError, match=r"run id '\.\.'"):
        store.list_steps("F", "..")
    with pytest.raises(ValueError, match=r"step name '\.\./x'"):
        store.task_dir(TaskRef("F", "r", "../x"))
    with pytest.raises(ValueError, match=r"flow name '\.'"):
        store.write_run(RunRecord(flow=".", run_id="r"))


def test_arguments_of_the_wrong_type_raise_type_error_naming_the_argument(datastore_root: Path) -> None:
    with pytest.raises(TypeError, match="pathspec must be a string"):
        Run(None)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="pathspec must be a string"):
        Task(5)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="datastore_root must be a path"):
        Run("F/r", datastore_root=3)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="attempt must be an int"):
        Task("F/r/start/0", datastore_root=datastore_root, attempt="0")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="attempt must be >= 0"):
        Task("F/r/start/0", datastore_root=datastore_root, attempt=-1)
    with pytest.raises(ValueError, match="task id 'x' is not valid"):
        Task("F/r/start/x", datastore_root=datastore_root)


def test_a_task_that_does_not_exist_is_not_found_rather_than_running(datastore_root: Path) -> None:
    execute_task(flows.LinearFlow, datastore_root, TaskRef("LinearFlow", "r1", "start"), parameters={})
    assert Task("LinearFlow/r1/start/0", datastore_root=datastore_root).status == "succeeded"
    for missing in ("LinearFlow/r1/start/0.1", "LinearFlow/r1/middle/0", "LinearFlow/nope/start/0"):
        with pytest.raises(DataStoreError, match=f"task {missing} not found"):
            Task(missing, datastore_root=datastore_root)
    assert Step("LinearFlow/r1/middle", datastore_root=datastore_root).tasks == [], "a step not reached has no tasks"
