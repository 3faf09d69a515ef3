"""`run_flow`: run a flow (or resume one) on this machine and return its client `Run`.

This is what `python myflow.py run`, `resume` and `MyFlow.run(...)` all call: it validates the flow before anything
runs, picks a run id, hands the tasks to the scheduler, reports failures with their tracebacks, and finally runs the
exit-handler step (if the flow has one) with the run's status.
"""

from __future__ import annotations

import os
import time
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from flowkit.authoring.run_context import RunContext
from flowkit.datastore import DataStore, RunRecord
from flowkit.datastore.atomic import ensure_dir
from flowkit.errors import FlowkitError, ParameterError
from flowkit.identity import TaskRef
from flowkit.runtime import DEFAULT_MAX_NUM_SPLITS
from flowkit.runtime.launch import TaskLauncher
from flowkit.runtime.output import Progress, RunConsole
from flowkit.runtime.scheduler import RunOutcome, Scheduler
from flowkit.runtime.worker import forking_context

if TYPE_CHECKING:
    from flowkit.client import Run
    from flowkit.runtime.resume import ResumeFrom, ResumePlan


def run_flow(
    flow_cls: type,
    parameters: Mapping[str, Any] | None = None,
    *,
    max_workers: int | None = None,
    datastore_root: str | os.PathLike[str] | None = None,
    resume_from: ResumeFrom | None = None,
    run_id_file: str | os.PathLike[str] | None = None,
    environment: str = "local",
    max_num_splits: int = DEFAULT_MAX_NUM_SPLITS,
    context: RunContext | None = None,
    quiet: bool = False,
) -> Run:
    """Run `flow_cls` locally with `parameters` (name -> Python value) and return the finished run.

    `resume_from` makes this a resume of an earlier run (its parameters are reused, so none may be given);
    `environment="conda"` runs steps that declare `@conda` in their environment's interpreter; a foreach task that
    yields more than `max_num_splits` splits fails. `context` carries the run's tags and `@project` branch to its
    tasks (default: this user, no tags, the default branch); `quiet` prints only task output and errors. A failed
    run is returned, not raised:
    `run.successful` is False and the failures were printed.
    """
    from flowkit.client import Run
    from flowkit.graph import build_graph
    from flowkit.specs import resolve_step_specs

    graph = build_graph(flow_cls)
    specs = resolve_step_specs(flow_cls)
    store = DataStore(datastore_root)
    run_id = new_run_id()
    context = context or RunContext()
    resume: ResumePlan | None = None
    if resume_from is not None:
        from flowkit.runtime.resume import plan_resume  # only a resume needs it: a plain run skips the import

        if parameters:
            raise ParameterError(
                "a resumed run reuses its origin's parameters", flow=flow_cls.__name__, parameter=", ".join(parameters)
            )
        resume = plan_resume(store, graph, resume_from)
        parameter_json = resume.parameters
        store.write_run(
            RunRecord(
                flow=graph.flow_name,
                run_id=run_id,
                parameters=parameter_json,
                origin_run_id=resume.origin_run_id,
                graph=graph.to_dict(),
                tags=list(context.tags),
                system_tags=context.system_tags(flow_cls),
                end_step=graph.end_step,
            )
        )
    else:
        parameter_json = parameters_to_json(flow_cls, parameters or {})
        # The run exists from now on, even if it is stopped before its start task records it: a later plain
        # `resume` then sees it and does not silently pick an older run.
        ensure_dir(store.run_dir(graph.flow_name, run_id))
    # What killed runs left half-written (blobs; the resumed run's records and logs), before this run writes.
    store.sweep_abandoned_writes(graph.flow_name, [resume.origin_run_id] if resume is not None else [])
    if run_id_file is not None:
        try:
            Path(run_id_file).write_text(run_id + "\n")
        except OSError as error:
            raise FlowkitError(f"cannot write the run id to --run-id-file {run_id_file}: {error.strerror}") from error

    workers = max_workers or os.cpu_count() or 1
    progress = Progress()
    console = RunConsole(f"{graph.flow_name}/{run_id}", progress, quiet=quiet)
    launcher = TaskLauncher(
        flow_cls,
        store,
        specs,
        parameters=parameter_json,
        use_conda=environment == "conda",
        max_num_splits=max_num_splits,
        run_environment=context.to_environment(),
        start_step=graph.start_step,
    )
    console.message(_started_message(graph.flow_name, run_id, resume, resume_from))
    reuse = None if resume is None else resume.reuse_into(store, run_id)
    try:
        from flowkit.task.executor import prepare_forked_tasks

        prepare_forked_tasks(flow_cls)
        with forking_context():
            start = TaskRef(graph.flow_name, run_id, graph.start_step)
            outcome = Scheduler(graph, launcher, console, progress, max_workers=workers, reuse=reuse).run([start])
            if resume is not None:
                console.message(resume.summary())
            _report_failures(console, store, outcome)
            if graph.exit_handler is not None:
                launcher.workflow_status = "Succeeded" if outcome.successful else "Failed"
                exit_task = start.sibling(graph.exit_handler, ())
                Scheduler(graph, launcher, console, progress, max_workers=1).run([exit_task])
    finally:
        console.close()
    return Run(f"{graph.flow_name}/{run_id}", datastore_root=store.root)


def new_run_id() -> str:
    """Sortable by start time and unique across concurrent runs on one datastore.

    The suffix comes from `os.urandom` directly (what `secrets.token_hex` uses), sparing every run the import of
    `secrets` and the `random` and `hmac` modules it pulls in.
    """
    return time.strftime("%Y%m%dT%H%M%S", time.gmtime()) + "-" + os.urandom(3).hex()


def parameters_to_json(flow_cls: type, values: Mapping[str, Any]) -> dict[str, str]:
    """Encode `values` as the JSON text the start task receives, failing now (not in a task) on a bad value.

    Unknown names and missing required parameters are checked by the same `parameter_values` the start task uses.
    """
    from flowkit.authoring.parameter import flow_parameters, parameter_values

    declared = flow_parameters(flow_cls)
    encoded = {name: declared[name].to_json(value) for name, value in values.items() if name in declared}
    parameter_values(flow_cls, {**dict.fromkeys(values, "null"), **encoded})
    return encoded


def _started_message(flow: str, run_id: str, resume: ResumePlan | None, request: ResumeFrom | None) -> str:
    if resume is None:
        return f"Run {flow}/{run_id} started."
    chosen = " (the latest run that recorded itself)" if request is not None and request.origin_run_id is None else ""
    return (
        f"Run {flow}/{run_id} resumes {resume.origin_run_id}{chosen}, reusing each task whose step code, inputs and "
        "parameters are unchanged."
    )


def _report_failures(console: RunConsole, store: DataStore, outcome: RunOutcome) -> None:
    """Print each failed task's step, id, error and traceback (what a user needs to fix it)."""
    for task in outcome.failed:
        record = store.latest_record(task)
        error = record.error if record is not None else None
        console.message(f"Task {task.label} failed", error=True)
        if error is not None:  # a traceback ends with the error itself; a dead process has only a reason
            console.message(error.traceback.rstrip() or f"{error.type}: {error.message}", error=True)
