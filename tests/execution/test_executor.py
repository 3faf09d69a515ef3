"""`execute_task` over every graph shape, called directly task by task (no scheduler involved)."""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

import pytest

from flowkit.datastore import DataStore, TaskRecord
from flowkit.errors import ExceptionWrapper, FlowDefinitionError
from flowkit.identity import TaskRef
from flowkit.task.executor import execute_task, record_process_failure
from tests.execution import flows
from tests.execution.conftest import execute_flow


def _data(root: Path, record: TaskRecord) -> dict[str, Any]:
    store = DataStore(root)
    return {name: store.blobs.load(ref.sha256) for name, ref in record.artifacts.items()}


def _last(results: dict[str, list[Any]], step: str) -> TaskRecord:
    return results[step][-1].record


def test_linear_flow_passes_artifacts_and_parameters(datastore_root: Path) -> None:
    results = execute_flow(flows.LinearFlow, datastore_root, parameters={"count": "5"})
    end = _data(datastore_root, _last(results, "end"))
    assert end["message"] == "hello x5"
    assert end["total"] == 1005
    assert end["seen_task"] == "0"
    assert end["greeting"] == "hello" and end["count"] == 5
    run = DataStore(datastore_root).read_run("LinearFlow", "r1")
    assert run is not None and run.parameters == {"greeting": '"hello"', "count": "5"}


def test_branch_join_sees_agreed_artifacts_and_merges(datastore_root: Path) -> None:
    results = execute_flow(flows.BranchFlow, datastore_root)
    join = _data(datastore_root, _last(results, "join"))
    assert join["xs"] == [1, 2] and join["from_a"] == 1
    assert join["seen_before_merging"] == [], "as in Metaflow, a join inherits nothing, agreed or set before the split"
    assert (join["common"], join["shared"]) == ("agreed", "same"), "merge_artifacts copies what the inputs agree on"
    assert join["only_a"] == "from a", "merge_artifacts copies artifacts that do not conflict"
    assert "x" not in join, "an excluded conflicting artifact is not carried on"
    assert _last(results, "end").succeeded


def test_merge_conflict_fails_naming_artifact_flow_and_step(datastore_root: Path) -> None:
    results = execute_flow(flows.ConflictFlow, datastore_root)
    join = _last(results, "join")
    assert join.status == "failed" and join.error is not None
    assert join.error.type == "ArtifactError"
    assert "ConflictFlow.join" in join.error.message and "'x'" in join.error.message


@pytest.mark.parametrize("width", [1, 10])
def test_foreach_and_join(datastore_root: Path, width: int) -> None:
    results = execute_flow(flows.ForeachFlow, datastore_root, parameters={"width": str(width)})
    assert _last(results, "start").num_splits == width
    assert [result.record.task_id for result in results["work"]] == [f"0.{i}" for i in range(width)]
    join = _data(datastore_root, _last(results, "join"))
    assert join["results"] == [(i, f"ITEM{i}", (i,)) for i in range(width)]
    assert _data(datastore_root, _last(results, "end"))["final"] == 2 * width


def test_nested_foreach_uses_the_innermost_frame(datastore_root: Path) -> None:
    results = execute_flow(flows.NestedForeachFlow, datastore_root)
    assert [result.record.task_id for result in results["leaf"]] == [
        "0.0.0", "0.0.1", "0.0.2", "0.1.0", "0.1.1", "0.1.2",
    ]  # fmt: skip
    assert [_data(datastore_root, result.record)["outer_input"] for result in results["inner_join"]] == ["a", "b"]
    end = _data(datastore_root, _last(results, "outer_join"))
    assert end["all_pairs"] == [((letter, n, n - 1), n) for letter in "ab" for n in (1, 2, 3)]


def test_foreach_writes_split_output(datastore_root: Path, tmp_path: Path) -> None:
    coords = TaskRef("ForeachFlow", "r1", "start")
    output = tmp_path / "splits.json"
    result = execute_task(flows.ForeachFlow, datastore_root, coords, parameters={"width": "3"}, split_output=output)
    assert result.num_splits == 3
    assert json.loads(output.read_text()) == [0, 1, 2]


def test_unpicklable_artifact_fails_naming_it(datastore_root: Path) -> None:
    results = execute_flow(flows.UnpicklableFlow, datastore_root)
    start = _last(results, "start")
    assert start.status == "failed" and start.error is not None
    assert "UnpicklableFlow.start artifact 'lock'" in start.error.message
    assert start.exit_code == 1


def test_parameters_are_read_only(datastore_root: Path) -> None:
    results = execute_flow(flows.ReadOnlyParameterFlow, datastore_root)
    start = _last(results, "start")
    assert start.error is not None and start.error.type == "ParameterError"
    assert "ReadOnlyParameterFlow parameter 'lr'" in start.error.message and "read-only" in start.error.message


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("text", None),
        ("text", "say \"hi\"\nthen 'bye'"),
        ("text", "ünïcødé ✓ 日本"),
        ("text", '{"looks": "like json"}'),
        ("config", {"nested": [1, {"deep": None}], "quote": '"', "newline": "a\nb"}),
    ],
)
def test_parameter_json_round_trip_through_the_start_task(datastore_root: Path, name: str, value: Any) -> None:
    from flowkit.authoring.parameter import flow_parameters

    parameter = flow_parameters(flows.JsonParameterFlow)[name]
    given = {name: parameter.to_json(value), "needed": "7"}
    results = execute_flow(flows.JsonParameterFlow, datastore_root, parameters=given)
    echo = _data(datastore_root, _last(results, "start"))["echo"]
    position = {"text": 0, "config": 1}[name]
    assert echo[position] == value
    assert echo[4] == 7


def test_missing_required_parameter_fails_the_start_task(datastore_root: Path) -> None:
    results = execute_flow(flows.JsonParameterFlow, datastore_root, parameters={})
    start = _last(results, "start")
    assert start.status == "failed" and start.error is not None
    assert "JsonParameterFlow parameter 'needed'" in start.error.message


def test_catch_on_last_attempt_stores_the_exception(datastore_root: Path) -> None:
    coords = TaskRef("CatchFlow", "r1", "start")
    first = execute_task(flows.CatchFlow, datastore_root, coords, attempt=0, parameters={})
    assert first.record.status == "failed", "@catch applies only once retries are exhausted"
    caught = execute_task(flows.CatchFlow, datastore_root, coords, attempt=1, parameters={})
    assert caught.succeeded and caught.record.error is not None
    data = _data(datastore_root, caught.record)
    problem = data["problem"]
    assert isinstance(problem, ExceptionWrapper), "stored as Metaflow's @catch stores it, not the raw exception"
    assert (problem.type, problem.exception) == ("builtins.ValueError", "boom on attempt 1")
    assert problem.stacktrace is not None and "Traceback" in problem.stacktrace and "boom" in problem.stacktrace
    assert "partial" not in data, "a failed step's own artifacts are not committed"
    assert DataStore(datastore_root).list_attempts(coords) == [0, 1]


def test_record_holds_resolved_spec_and_environment_ids(datastore_root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FLOWKIT_ENVIRONMENT_ID", "env-123")
    monkeypatch.setenv("FLOWKIT_CODE_PACKAGE_ID", "pkg-456")
    record = execute_task(flows.CatchFlow, datastore_root, TaskRef("CatchFlow", "r1", "start")).record
    assert record.spec is not None
    assert record.spec["kubernetes"]["image"] == "python:3.11-slim" and record.spec["kubernetes"]["gpu"] == 1
    assert record.spec["retry"]["times"] == 1
    assert (record.environment_id, record.code_package_id) == ("env-123", "pkg-456")
    assert record.started_at <= record.finished_at
    assert record.error is not None and "Traceback" in record.error.traceback and "boom" in record.error.traceback
    run = DataStore(datastore_root).read_run("CatchFlow", "r1")
    assert run is not None and (run.environment_id, run.code_package_id) == ("env-123", "pkg-456")


@pytest.mark.parametrize(("mode", "message"), [("twice", "more than once"), ("none", "must end with self.next")])
def test_transition_is_checked_at_runtime(datastore_root: Path, mode: str, message: str) -> None:
    coords = TaskRef("RuntimeTransitionFlow", "r1", "start")
    record = execute_task(flows.RuntimeTransitionFlow, datastore_root, coords, parameters={"mode": json.dumps(mode)})
    assert record.record.error is not None and message in record.record.error.message
    assert "RuntimeTransitionFlow.start" in record.record.error.message


def test_exit_handler_sees_parameters_and_workflow_status_only(datastore_root: Path) -> None:
    execute_flow(flows.ExitHandlerFlow, datastore_root, parameters={"who": '"me"'})
    coords = TaskRef("ExitHandlerFlow", "r1", "notify")
    result = execute_task(flows.ExitHandlerFlow, datastore_root, coords, workflow_status="Failed")
    assert result.succeeded
    assert _data(datastore_root, result.record)["report"] == ("me", "Failed", False)


def test_record_process_failure_without_and_with_catch(datastore_root: Path) -> None:
    coords = TaskRef("CatchFlow", "r1", "start")
    failed = record_process_failure(datastore_root, coords, 0, -9, "killed by SIGKILL", flows.CatchFlow)
    assert failed.record.status == "failed" and failed.record.exit_code == -9
    assert failed.record.error is not None and failed.record.error.message == "killed by SIGKILL"
    caught = record_process_failure(datastore_root, coords, 1, -9, "killed by SIGKILL", flows.CatchFlow)
    assert caught.succeeded
    problem = _data(datastore_root, caught.record)["problem"]
    assert isinstance(problem, ExceptionWrapper) and problem.stacktrace is None
    assert problem.type == "flowkit.errors.TaskFailedError" and "killed by SIGKILL" in problem.exception
    assert "killed by SIGKILL" in str(problem)


def test_unchanged_artifact_is_stored_once_across_tasks(datastore_root: Path) -> None:
    results = execute_flow(flows.DedupeFlow, datastore_root)
    start, a = _last(results, "start"), _last(results, "a")
    assert start.artifacts["weights"].sha256 == a.artifacts["weights"].sha256
    blobs = [path for path in (datastore_root / "blobs").rglob("*") if path.is_file()]
    assert len(blobs) == 2  # weights once, step_a once


def test_a_task_setting_one_artifact_writes_few_files(datastore_root: Path) -> None:
    execute_flow(flows.OneArtifactFlow, datastore_root)
    before = {path for path in datastore_root.rglob("*") if path.is_file()}
    coords = TaskRef("OneArtifactFlow", "r2", "work")
    execute_task(flows.OneArtifactFlow, datastore_root, TaskRef("OneArtifactFlow", "r2", "start"))
    after_start = {path for path in datastore_root.rglob("*") if path.is_file()}
    execute_task(flows.OneArtifactFlow, datastore_root, coords)
    written = {path for path in datastore_root.rglob("*") if path.is_file()} - after_start
    assert before, "the first run wrote files"
    assert {path.name for path in written} == {"0.json"}, "the value blob already exists from run r1: only a record"
    assert len(written) <= 5


def test_foreach_input_outside_foreach_is_a_clear_error(datastore_root: Path) -> None:
    from flowkit import Flow
    from flowkit.graph import build_graph
    from flowkit.task.inputs import TaskInputs
    from flowkit.task.scope import StepScope

    coords = TaskRef("LinearFlow", "r1", "start")
    scope = StepScope(DataStore(datastore_root), coords, build_graph(flows.LinearFlow).steps["start"], TaskInputs())
    flow: Flow = flows.LinearFlow._flowkit_for_task(scope)
    with pytest.raises(FlowDefinitionError, match=r"LinearFlow\.start .*self\.input"):
        _ = flow.input
    with pytest.raises(AttributeError, match="no artifact or attribute 'missing'"):
        _ = flow.missing
    flow.lock = threading.Lock()
    assert "lock" in scope.assigned_names


def test_merge_with_include_and_a_conflict_resolved_in_the_join(datastore_root: Path) -> None:
    results = execute_flow(flows.ResolvedMergeFlow, datastore_root)
    join = _data(datastore_root, _last(results, "join"))
    assert join["x"] == 2, "the join's own value resolves the conflict"
    assert join["z"] == "only a"
    assert "y" not in join, "an artifact neither merged nor assigned is dropped, even when every input agrees"


def test_inherited_artifacts_mutated_in_place_reach_later_steps(datastore_root: Path) -> None:
    results = execute_flow(flows.MutatedInPlaceFlow, datastore_root)
    start, grow, join = _last(results, "start"), _last(results, "grow"), _last(results, "join")
    end = _data(datastore_root, _last(results, "end"))
    assert end["final_items"] == [1, 2, 3, 4], "append() on an inherited list is persisted"
    assert end["final_log"] == ["branch", "joined"], "both branches appended alike, so they agree; the join appends"
    assert grow.artifacts["items"].sha256 != start.artifacts["items"].sha256
    assert grow.artifacts["read_only"] == start.artifacts["read_only"], "read, unchanged: the same blob"
    assert grow.artifacts["never_read"] == start.artifacts["never_read"]
    assert _data(datastore_root, join)["log"] == ["branch", "joined"]


def test_a_foreach_over_a_list_extended_in_place_runs_every_item(datastore_root: Path) -> None:
    results = execute_flow(flows.MutatedForeachListFlow, datastore_root)
    assert _last(results, "extend").num_splits == 3
    assert [result.record.succeeded for result in results["body"]] == [True, True, True]
    assert _data(datastore_root, _last(results, "join"))["values"] == [10, 20, 30]


def test_a_read_artifact_whose_pickle_differs_from_the_stored_one_keeps_its_blob(datastore_root: Path) -> None:
    results = execute_flow(flows.ReadSetFlow, datastore_root)
    start, read = _last(results, "start"), _last(results, "read")
    assert _data(datastore_root, read)["count"] == 50
    assert read.artifacts["tags"] == start.artifacts["tags"], "reading is not changing, whatever the pickle order"


def test_only_read_artifacts_that_can_change_in_place_are_digested(datastore_root: Path) -> None:
    from flowkit.graph import build_graph
    from flowkit.task.inputs import TaskInputs
    from flowkit.task.scope import StepScope

    store = DataStore(datastore_root)
    inherited = {
        "blob": store.put_artifact(b"x" * 1000),
        "rows": store.put_artifact([1]),
        "unread": store.put_artifact({}),
    }
    node = build_graph(flows.LinearFlow).steps["middle"]
    scope = StepScope(store, TaskRef("LinearFlow", "r1", "middle"), node, TaskInputs(artifacts=inherited))
    flow = flows.LinearFlow._flowkit_for_task(scope)
    assert flow.blob == b"x" * 1000 and flow.rows == [1]
    assert set(scope.loaded_digests) == {"rows"}, "bytes cannot change in place; unread artifacts are not touched"
