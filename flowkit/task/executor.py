"""Run ONE task in this process: load its inputs, call the step, persist what it set, commit its record.

The local runtime forks this function; an Argo pod reaches it through ``python -m flowkit.task``. Either way the
same arguments produce the same records, which is what makes a local run a faithful rehearsal of a cluster run.
User-code failures never propagate: they become a failed commit record (or, on the last attempt of a ``@catch``
step, a succeeded one carrying the exception).
"""

from __future__ import annotations

import os
import sys
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

from flowkit import settings
from flowkit.authoring.current import current
from flowkit.authoring.parameter import flow_parameters, parameter_values
from flowkit.authoring.run_context import RunContext
from flowkit.authoring.step import CARDS_ATTR
from flowkit.datastore import (
    ArtifactRef,
    DataStore,
    ErrorInfo,
    RunRecord,
    TaskRecord,
    utc_now,
)
from flowkit.datastore.atomic import write_file_atomically
from flowkit.errors import ExceptionWrapper, FlowkitError, StorageError, TaskFailedError
from flowkit.identity import TaskRef
from flowkit.plain_data import PlainData
from flowkit.task.inputs import TaskInputs, gather_inputs
from flowkit.task.scope import StepScope

if TYPE_CHECKING:
    from flowkit.authoring.flow import Flow
    from flowkit.cards.task import TaskCards
    from flowkit.graph import StepNode
    from flowkit.specs import StepSpec

ARGO_NODE_ENV = "ARGO_NODE_ID"
"""Set by Argo in every workflow pod: tells the start task which scheduler started the run."""


class TaskResult(NamedTuple):
    """The outcome of one attempt: its commit record (already published)."""

    record: TaskRecord

    @property
    def succeeded(self) -> bool:
        return self.record.succeeded

    @property
    def num_splits(self) -> int | None:
        return self.record.num_splits


class _Attempt(PlainData):
    """What every record of this attempt shares."""

    store: DataStore
    coords: TaskRef
    attempt: int
    spec: StepSpec
    code_hash: str
    started_at: datetime
    cards: TaskCards | None = None
    """The step's ``@card`` reports, written just before the record (None for the many steps without one)."""

    def record(self, status: str, **fields: Any) -> TaskRecord:
        return TaskRecord(
            flow=self.coords.flow,
            run_id=self.coords.run_id,
            step=self.coords.step,
            task_id=self.coords.task_id,
            index_path=list(self.coords.index_path),
            attempt=self.attempt,
            status=status,  # type: ignore[arg-type]
            started_at=self.started_at,
            finished_at=utc_now(),
            spec=self.spec.model_dump(mode="json"),
            environment_id=settings.value(settings.ENVIRONMENT_ID),
            code_package_id=settings.value(settings.CODE_PACKAGE_ID),
            code_hash=self.code_hash,
            **fields,
        )

    def commit(self, record: TaskRecord) -> TaskResult:
        if self.cards is not None:
            self.cards.write_final(record)
        self.store.commit(record)
        return TaskResult(record)

    @property
    def is_last(self) -> bool:
        return self.attempt >= self.spec.retry.times


def execute_task(
    flow_cls: type[Flow],
    datastore_root: str | os.PathLike[str] | DataStore,
    coords: TaskRef,
    *,
    attempt: int = 0,
    parameters: dict[str, str] | None = None,
    split_output: str | os.PathLike[str] | None = None,
    workflow_status: str | None = None,
    max_num_splits: int | None = None,
    branch_output: str | os.PathLike[str] | None = None,
) -> TaskResult:
    """Run the task at ``coords`` and commit its record. ``parameters`` (name -> JSON text) is for the start task.

    ``datastore_root`` may be the `DataStore` itself: a task the local scheduler forks gets the scheduler's, which
    already holds the records it cloned for a resume.

    ``max_num_splits`` (the local ``--max-num-splits``) fails a foreach task that fans out wider, whatever its
    ``@catch``: a guard against a bug launching thousands of tasks, as in Metaflow. ``branch_output``: for a
    switch step, a path where the name of the branch it took is written (Argo's ``when`` reads it).
    """
    node, run = _begin_attempt(flow_cls, datastore_root, coords, attempt)
    run.cards = _task_cards(flow_cls, run, node)
    current._bind(
        flow_name=coords.flow,
        run_id=coords.run_id,
        step_name=coords.step,
        task_id=coords.task_id,
        retry_count=attempt,
        index_path=coords.index_path,
        workflow_status=workflow_status if node.is_exit_handler else None,
        cards=run.cards.collector if run.cards is not None else None,
    )
    current._bind_context(RunContext.from_environment(), flow_cls)
    try:
        try:
            inputs = _task_inputs(flow_cls, run.store, coords, node, parameters)
        except StorageError:
            raise  # see below
        except (Exception, SystemExit) as error:
            return run.commit(run.record("failed", exit_code=1, error=_error_info(error)))
        scope = StepScope(run.store, coords, node, inputs)
        try:
            num_splits = _run_step(flow_cls, scope, node, run.spec, run.cards)
        except StorageError:
            # The datastore's disk refused (full, read-only, not ours): not the step's failure, and no record could
            # say so. The attempt ends uncommitted, as if killed, so a resume once the disk is fixed runs it again.
            raise
        except (Exception, SystemExit) as error:
            if run.spec.catch is not None and run.is_last and node.transition != "switch":  # no branch to take
                return _commit_caught(run, inputs, node, error, split_output)
            return run.commit(run.record("failed", exit_code=_exit_code(error), error=_error_info(error)))
        if num_splits is not None and max_num_splits is not None and num_splits > max_num_splits:
            too_wide = FlowkitError(
                f"{coords.flow}.{coords.step} foreach={node.foreach_var!r} yielded {num_splits} splits, more than "
                f"--max-num-splits {max_num_splits} allows; raise it (run --max-num-splits {num_splits}) if the "
                "width is intended"
            )
            return run.commit(run.record("failed", exit_code=1, error=_error_info(too_wide)))
        record = run.record(
            "succeeded",
            exit_code=0,
            artifacts=scope.artifacts,
            num_splits=num_splits,
            foreach=inputs.foreach,
            next_step=scope.chosen_step,
        )
        if scope.chosen_step is not None and branch_output is not None:
            write_file_atomically(Path(branch_output), scope.chosen_step.encode())
        if num_splits is not None and split_output is not None:
            write_split_list(split_output, num_splits)  # before the commit: the record is always written last
        return run.commit(record)
    finally:
        current._clear()


def record_process_failure(
    datastore_root: str | os.PathLike[str],
    coords: TaskRef,
    attempt: int,
    exit_code: int,
    reason: str,
    flow_cls: type[Flow],
) -> TaskResult:
    """Commit the record of an attempt whose process died before committing (signal, ``os._exit``, timeout)."""
    node, run = _begin_attempt(flow_cls, datastore_root, coords, attempt)
    error = TaskFailedError(f"{coords}: {reason}")
    if run.spec.catch is not None and run.is_last and node.transition != "switch":
        try:
            inputs = _task_inputs(flow_cls, run.store, coords, node, None)
        except Exception:  # the inputs are gone too: nothing to carry on with, so the failure stands
            pass
        else:
            return _commit_caught(run, inputs, node, error, None, exit_code=exit_code)
    info = ErrorInfo(type=TaskFailedError.__name__, module=TaskFailedError.__module__, message=reason)
    return run.commit(run.record("failed", exit_code=exit_code, error=info))


def _begin_attempt(
    flow_cls: type[Flow], datastore_root: str | os.PathLike[str] | DataStore, coords: TaskRef, attempt: int
) -> tuple[StepNode, _Attempt]:
    """The task's step and the attempt starting now, with the step's resolved specs."""
    from flowkit.specs import resolve_step_specs

    node = _step_node(flow_cls, coords)
    spec = resolve_step_specs(flow_cls)[coords.step]
    store = datastore_root if isinstance(datastore_root, DataStore) else DataStore(datastore_root)
    return node, _Attempt(
        store=store, coords=coords, attempt=attempt, spec=spec, code_hash=node.code_hash, started_at=utc_now()
    )


def _step_node(flow_cls: type[Flow], coords: TaskRef) -> StepNode:
    """The graph node of the task's step; a step name the flow lacks is the caller's mistake, reported as such."""
    from flowkit.graph import build_graph

    node = build_graph(flow_cls).steps.get(coords.step)
    if node is None:
        raise FlowkitError(f"{coords.flow} has no step {coords.step!r} (task {coords})")
    return node


def prepare_forked_tasks(flow_cls: type[Flow]) -> None:
    """Do once, in a scheduler about to fork this flow's tasks, what each of them would otherwise do alike.

    For steps with ``@card``: import the card renderer (imported in every forked task instead, it costs about 10 ms
    of CPU per task, more than a short task itself) and draw each such step's DAG for its cards, which every task of
    the step shows unchanged. A flow without ``@card`` loads nothing.
    """
    from flowkit.authoring.step import find_steps

    carded = [name for name, function in find_steps(flow_cls).items() if getattr(function, CARDS_ATTR, None)]
    if not carded:
        return
    import flowkit.cards.task  # noqa: F401  (imported here to be inherited by every forked task)
    from flowkit.cards.dag import outlined_dag
    from flowkit.graph import build_graph

    graph = build_graph(flow_cls)
    for step in carded:
        outlined_dag(graph, step)


def _task_cards(flow_cls: type[Flow], run: _Attempt, node: StepNode) -> TaskCards | None:
    """The step's cards when it carries ``@card``; a step without one costs this attribute read and nothing else."""
    declarations = getattr(getattr(flow_cls, node.name, None), CARDS_ATTR, None)
    if not declarations:
        return None
    from flowkit.cards.task import TaskCards
    from flowkit.graph import build_graph

    parameters = [parameter.attribute for parameter in flow_parameters(flow_cls).values()]
    return TaskCards(
        declarations, run.store, run.coords, run.attempt, build_graph(flow_cls), parameters, run.started_at
    )


def _task_inputs(
    flow_cls: type[Flow], store: DataStore, coords: TaskRef, node: StepNode, given: dict[str, str] | None
) -> TaskInputs:
    """Start and the exit handler begin from the run's parameters; every other step from its parents."""
    from flowkit.graph import build_graph

    graph = build_graph(flow_cls)
    if coords.step == graph.start_step:
        return TaskInputs(artifacts=_start_parameters(flow_cls, store, coords, given, graph.end_step))
    if node.is_exit_handler:
        run = store.read_run(coords.flow, coords.run_id)
        values = parameter_values(flow_cls, run.parameters if run is not None else given or {})
        return TaskInputs(artifacts={name: store.put_artifact(value) for name, value in values.items()})
    return gather_inputs(graph, coords, store, [p.attribute for p in flow_parameters(flow_cls).values()])


def _start_parameters(
    flow_cls: type[Flow], store: DataStore, coords: TaskRef, given: dict[str, str] | None, end_step: str
) -> dict[str, ArtifactRef]:
    """Resolve the run's parameters, record them in run.json (all of them, defaults included) and store them."""
    from flowkit.graph import build_graph

    if given is None:
        existing = store.read_run(coords.flow, coords.run_id)
        given = existing.parameters if existing is not None else {}
    values = parameter_values(flow_cls, given)
    context = RunContext.from_environment()
    store.write_run(
        RunRecord(
            flow=coords.flow,
            run_id=coords.run_id,
            parameters={p.name: p.to_json(values[p.attribute]) for p in flow_parameters(flow_cls).values()},
            code_package_id=settings.value(settings.CODE_PACKAGE_ID),
            environment_id=settings.value(settings.ENVIRONMENT_ID),
            scheduler="argo" if os.environ.get(ARGO_NODE_ENV) else "local",
            graph=build_graph(flow_cls).to_dict(),
            tags=list(context.tags),
            system_tags=context.system_tags(flow_cls),
            end_step=end_step,
        )
    )
    return {name: store.put_artifact(value) for name, value in values.items()}


def _run_step(
    flow_cls: type[Flow], scope: StepScope, node: StepNode, spec: StepSpec, cards: TaskCards | None
) -> int | None:
    """Call the step, check its transition, persist its artifacts; returns the foreach split count if any.

    The step's cards take what they show of the values while the instance still holds them.

    A ``@catch(var=...)`` step that succeeds sets its var to None, as in Metaflow, so a join can test
    ``inp.var`` on every input without caring which ones failed.
    """
    flow = flow_cls._flowkit_for_task(scope)
    step = getattr(flow, node.name)
    if node.is_join:
        step(scope.inputs.join)
    else:
        step()
    scope.check_transition()
    if spec.catch is not None and spec.catch.var is not None:
        setattr(flow, spec.catch.var, None)
    num_splits = len(scope.foreach_items(flow)) if node.transition == "foreach" else None
    scope.persist(flow)
    if cards is not None:
        cards.remember_values(scope.values_in_memory(flow))
    return num_splits


def _commit_caught(
    run: _Attempt,
    inputs: TaskInputs,
    node: StepNode,
    error: BaseException,
    split_output: str | os.PathLike[str] | None,
    *,
    exit_code: int = 0,
) -> TaskResult:
    """``@catch`` on the last attempt: succeed with the inherited artifacts plus the exception in ``catch.var``."""
    catch = run.spec.catch
    assert catch is not None
    if catch.print_exception:
        import traceback

        print(f"@catch: {run.coords} failed; continuing:", file=sys.stderr)
        traceback.print_exception(type(error), error, error.__traceback__, file=sys.stderr)
    artifacts = dict(inputs.artifacts)
    if catch.var is not None:
        artifacts[catch.var] = _store_exception(run.store, error)
    num_splits = 0 if node.transition == "foreach" else None
    if num_splits is not None and split_output is not None:
        write_split_list(split_output, num_splits)
    record = run.record(
        "succeeded",
        exit_code=exit_code,
        error=_error_info(error),
        artifacts=artifacts,
        num_splits=num_splits,
        foreach=inputs.foreach,
    )
    return run.commit(record)


def _store_exception(store: DataStore, error: BaseException) -> ArtifactRef:
    """The exception as Metaflow's ``@catch`` stores it: a wrapper holding its type, message and traceback."""
    return store.put_artifact(ExceptionWrapper.of(error))


def write_split_list(path: str | os.PathLike[str], num_splits: int) -> None:
    """Write the JSON list of split indices (``[0,1,2]``) that Argo's ``withParam`` fans out over: the one writer of
    ``--split-output``, for a foreach step that ran and for one whose failure ``@catch`` caught."""
    target = Path(path)
    write_file_atomically(target, ("[" + ",".join(map(str, range(num_splits))) + "]").encode())


def _error_info(error: BaseException) -> ErrorInfo:
    import traceback  # only a failing step formats one: a task start does not pay for traceback and textwrap

    return ErrorInfo(
        type=type(error).__name__,
        module=type(error).__module__,
        message=str(error),
        traceback="".join(traceback.format_exception(type(error), error, error.__traceback__)),
    )


def _exit_code(error: BaseException) -> int:
    if isinstance(error, SystemExit) and isinstance(error.code, int) and error.code != 0:
        return error.code
    return 1
