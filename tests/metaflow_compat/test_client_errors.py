"""Client refusals that name what is wrong: unknown flows and artifacts, and tags that cannot change."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from flowkit import Flow, FlowSpec, step
from flowkit.client import Flow as FlowRuns
from flowkit.client import Step, Task
from flowkit.errors import DataStoreError, FlowkitError, PathspecError


class TinyFlow(FlowSpec):
    @step
    def start(self):
        self.value = 1
        self.next(self.end)

    @step
    def end(self):
        pass


def test_flow_with_a_name_is_the_client_and_a_subclass_is_still_a_flow(datastore_root: Path) -> None:
    run = TinyFlow.run(datastore_root=datastore_root)
    client = Flow("TinyFlow", datastore_root=datastore_root)
    assert isinstance(client, FlowRuns) and client[run.id].data.value == 1
    assert issubclass(TinyFlow, Flow)


def test_unknown_flow_and_artifact_and_bad_names_are_refused(datastore_root: Path) -> None:
    run = TinyFlow.run(datastore_root=datastore_root)
    with pytest.raises(DataStoreError, match="flow NoSuchFlow not found"):
        Flow("NoSuchFlow", datastore_root=datastore_root)
    with pytest.raises(TypeError, match="a flow name is a string"):
        FlowRuns(42)  # type: ignore[arg-type]
    with pytest.raises(KeyError, match="has no artifact 'nope'"):
        run["start"].task["nope"]
    assert "value" in run["start"].task and run["start"].task.index is None


def test_system_tags_stay_and_bad_tags_are_refused(datastore_root: Path) -> None:
    run = TinyFlow.run(datastore_root=datastore_root)
    (user_tag,) = run.system_tags
    with pytest.raises(DataStoreError, match="system tags cannot be removed"):
        run.remove_tags(["mine", user_tag])
    with pytest.raises(DataStoreError, match="non-empty string"):
        run.add_tag("")
    with pytest.raises(DataStoreError, match="at most 500"):
        run.add_tag("x" * 501)
    run.replace_tag("old", "new")
    assert run.user_tags == {"new"} and run.tags == {"new", user_tag}


def test_a_step_the_flow_lacks_is_not_found_and_one_not_reached_is_empty(datastore_root: Path) -> None:
    """As Metaflow's client: ``run["typo"]`` is a KeyError, ``Step("F/r/typo")`` a not-found error; a step of the
    flow that has not started yet is simply a step without tasks."""
    run = TinyFlow.run(datastore_root=datastore_root)
    with pytest.raises(KeyError, match=r"step TinyFlow/.*/strat not found: the run's steps are start, end"):
        run["strat"]
    with pytest.raises(DataStoreError, match=r"step TinyFlow/.*/strat not found"):
        Step(f"{run.pathspec}/strat", datastore_root=datastore_root)
    with pytest.raises(DataStoreError, match="run TinyFlow/nope not found"):
        Step("TinyFlow/nope/start", datastore_root=datastore_root)
    shutil.rmtree(datastore_root / "runs" / "TinyFlow" / run.id / "end")  # as if end had not started yet
    assert run["end"].tasks == [] and not run.successful


def test_metaflow_s_integer_task_id_is_a_pathspec_error_naming_the_form(datastore_root: Path) -> None:
    run = TinyFlow.run(datastore_root=datastore_root)
    with pytest.raises(PathspecError, match=f"{run.pathspec}/start/1: task id '1' is not valid") as refused:
        Task(f"{run.pathspec}/start/1", datastore_root=datastore_root)
    assert isinstance(refused.value, ValueError) and isinstance(refused.value, FlowkitError)
    with pytest.raises(PathspecError, match="pathspec must look like 'Flow/run_id/step'"):
        Step("TinyFlow", datastore_root=datastore_root)
