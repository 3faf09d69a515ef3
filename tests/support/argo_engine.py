"""Execute an Argo workflow's templates locally: DAG scheduling, fan-out, parameters, retries, deadlines.

Semantics followed (Argo's): a DAG task starts when every dependency Succeeded (or was Skipped: a fan-out over an
empty list, or a task whose ``when`` was false); a task whose dependency failed is Omitted; once a task fails, a
fail-fast DAG (the default) starts nothing new and fails. A fan-out's children run independently and the group fails
if any child fails. A container attempt that exits non-zero is retried up to ``retryStrategy.limit`` times unless
the policy is OnError or OnTransientError (which retry only infrastructure errors, never seen here) or the
``expression`` excludes its exit code; backoff delays are not waited for.
At most ``max_parallel`` containers run at once across the whole workflow.
"""

from __future__ import annotations

import json
import threading
import time
import zlib
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from tests.support.argo_features import check_enum, excluded_exit_codes, parse_depends
from tests.support.argo_pod import PodEnvironment, PodResult, run_pod
from tests.support.argo_records import FAILED, OMITTED, SKIPPED, SUCCEEDED, NodeRecord
from tests.support.argo_substitution import (
    as_parameter_text,
    item_scope,
    parameter_scope,
    substitute,
    substitute_all,
)
from tests.support.argo_when import evaluate_when

Template = Mapping[str, Any]
Scope = Mapping[str, str]
_RETRIED_POLICIES = frozenset({"Always", "OnFailure"})
_MAX_ITEM_LABEL = 40


class WorkflowEngine:
    """Runs the templates of one workflow. Thread-safe: DAG tasks run in threads, containers in a bounded pool."""

    def __init__(
        self, templates: Mapping[str, Template], pod: PodEnvironment, *, max_parallel: int, deadline_at: float
    ) -> None:
        self._templates = templates
        self._pod = pod
        self._max_parallel = max_parallel
        self._pod_slots = threading.BoundedSemaphore(max_parallel)
        self._deadline_at = deadline_at
        self._lock = threading.Lock()
        self.nodes: list[NodeRecord] = []
        self.errors: list[BaseException] = []
        self.timed_out = False

    def run_template(self, name: str, arguments: Mapping[str, str], node_name: str, globals_: Scope) -> NodeRecord:
        """Run template ``name`` with ``arguments`` as its input parameters; ``globals_`` holds ``workflow.*``."""
        if name not in self._templates:
            raise ValueError(f"{node_name}: no template named {name!r} (templates: {sorted(self._templates)})")
        template = self._templates[name]
        where = f"template {name!r} (node {node_name})"
        inputs = _resolve_inputs(template, arguments, globals_, where)
        if self.stopped():
            return self._record(NodeRecord(node_name, name, "omitted", OMITTED, inputs, message="run stopped"))
        if "dag" in template:
            return self._run_dag(template, inputs, node_name, globals_, where)
        return self._run_container(template, inputs, node_name, globals_, where)

    def _run_container(
        self, template: Template, inputs: dict[str, str], node_name: str, globals_: Scope, where: str
    ) -> NodeRecord:
        node = NodeRecord(node_name, template["name"], "container", FAILED, inputs)
        scope = {**globals_, **parameter_scope("inputs.parameters", inputs)}
        retry = substitute_all(template.get("retryStrategy", {}), scope, where=where)
        retries_allowed = (
            int(retry.get("limit", 0)) if retry.get("retryPolicy", "OnFailure") in _RETRIED_POLICIES else 0
        )
        not_retried = excluded_exit_codes(retry["expression"], where=where) if "expression" in retry else set()
        body = {key: value for key, value in template.items() if key != "retryStrategy"}
        for attempt in range(retries_allowed + 1):
            pod_name = (
                f"{globals_['workflow.name']}-{template['name']}-{zlib.crc32(f'{node_name}({attempt})'.encode())}"
            )
            resolved = substitute_all(body, {**scope, "retries": str(attempt), "pod.name": pod_name}, where=where)
            result = self._run_pod(resolved, pod_name, where)
            node.attempts.append(result)
            if result.exit_code == 0:
                node.phase, node.outputs = SUCCEEDED, result.outputs
                break
            node.message = result.error or f"exit code {result.exit_code}"
            if self.stopped() or result.exit_code in not_retried:
                break
        return self._record(node)

    def _run_pod(self, template: Template, pod_name: str, where: str) -> PodResult:
        """One attempt, holding a container slot, killed at its own deadline or the workflow's, whichever is first."""
        with self._pod_slots:
            remaining = self._deadline_at - time.monotonic()
            own_deadline = float(template["activeDeadlineSeconds"]) if "activeDeadlineSeconds" in template else None
            if remaining <= 0:
                self._time_out()
            if self.stopped():
                return PodResult(argv=[], exit_code=1, stdout="", stderr="", error="run stopped before this attempt")
            deadline = remaining if own_deadline is None else min(own_deadline, remaining)
            result = run_pod(self._pod, template, pod_name=pod_name, deadline=deadline, where=where)
        if result.deadline_exceeded and deadline < (own_deadline or float("inf")):
            self._time_out()
            result.error = "workflow deadline exceeded"
        return result

    def _run_dag(
        self, template: Template, inputs: dict[str, str], node_name: str, globals_: Scope, where: str
    ) -> NodeRecord:
        scope = {**globals_, **parameter_scope("inputs.parameters", inputs)}
        phases = _DagRun(self, template, node_name, globals_, scope, where).run()
        node = NodeRecord(node_name, template["name"], "dag", SUCCEEDED, inputs)
        unsuccessful = sorted(name for name, phase in phases.items() if phase not in (SUCCEEDED, SKIPPED))
        if unsuccessful:
            node.phase, node.message = FAILED, f"failed or omitted tasks: {unsuccessful}"
        else:
            node.outputs = {
                parameter["name"]: substitute(parameter["valueFrom"]["parameter"], scope, where=where)
                for parameter in template.get("outputs", {}).get("parameters", [])
            }
        return self._record(node)

    def run_task(self, task: Template, scope: Scope, node_name: str, globals_: Scope) -> NodeRecord:
        """One DAG task: a single call, or a fan-out over ``withItems`` / ``withParam`` run ``max_parallel`` wide."""
        where = f"task {node_name}"
        if "when" in task and not evaluate_when(substitute(task["when"], scope, where=where), where=where):
            return self._record(NodeRecord(node_name, task["template"], "skipped", SKIPPED, message="when is false"))
        if "withItems" in task:
            items = substitute_all(task["withItems"], scope, where=where)
        elif "withParam" in task:
            text = substitute(task["withParam"], scope, where=where)
            try:
                items = json.loads(text)
            except json.JSONDecodeError as error:
                raise ValueError(f"{where}: withParam is not JSON ({error}): {text!r}") from error
            if not isinstance(items, list):
                raise ValueError(f"{where}: withParam must be a JSON list, got {text!r}")
        else:
            return self._call(task, scope, node_name, globals_)
        group = NodeRecord(node_name, task["template"], "fan-out", SUCCEEDED if items else SKIPPED)
        with ThreadPoolExecutor(max_workers=self._max_parallel) as pool:
            children = [
                pool.submit(
                    self._call, task, {**scope, **item_scope(item)}, f"{node_name}({i}:{_label(item)})", globals_
                )
                for i, item in enumerate(items)
            ]
            failed = [child.result().name for child in children if child.result().phase != SUCCEEDED]
        if failed:
            group.phase, group.message = FAILED, f"failed children: {failed}"
        return self._record(group)

    def _call(self, task: Template, scope: Scope, node_name: str, globals_: Scope) -> NodeRecord:
        """Run the task's template with its arguments resolved in ``scope``."""
        arguments = {
            parameter["name"]: substitute(
                as_parameter_text(parameter.get("value", "")), scope, where=f"task {node_name}"
            )
            for parameter in task.get("arguments", {}).get("parameters", [])
        }
        return self.run_template(task["template"], arguments, node_name, globals_)

    def record_omitted(self, node_name: str, task: Template, reason: str) -> None:
        """Record a task that never started."""
        self._record(NodeRecord(node_name, task["template"], "omitted", OMITTED, message=reason))

    def record_error(self, error: BaseException) -> None:
        """Keep an error raised while running a task in a thread; it stops the run and is re-raised at the end."""
        with self._lock:
            self.errors.append(error)

    def _record(self, node: NodeRecord) -> NodeRecord:
        with self._lock:
            self.nodes.append(node)
        return node

    def _time_out(self) -> None:
        with self._lock:
            self.timed_out = True

    def stopped(self) -> bool:
        """True once the run cannot go on: the workflow deadline passed or the manifest proved unusable."""
        with self._lock:
            return self.timed_out or bool(self.errors)


class _DagRun:
    """Schedules the tasks of one DAG template invocation; each started task runs in its own thread."""

    def __init__(
        self, engine: WorkflowEngine, template: Template, node_name: str, globals_: Scope, scope: dict[str, str],
        where: str,
    ) -> None:  # fmt: skip
        self._engine = engine
        self._tasks = {task["name"]: task for task in template["dag"]["tasks"]}
        self._dependencies = {name: _dependencies(task, self._tasks, where) for name, task in self._tasks.items()}
        self._fail_fast = template["dag"].get("failFast", True)
        self._node_name, self._globals, self._where = node_name, globals_, where
        self._scope = scope  # grows with each finished task's output parameters
        self._phases: dict[str, str] = {}
        self._running: set[str] = set()
        self._changed = threading.Condition()

    def run(self) -> dict[str, str]:
        """Run every task that can run; return each task's phase (Omitted for those that never started)."""
        with self._changed:
            while True:
                while self._start_ready_tasks():
                    pass  # an omission can omit further dependents; a start changes nothing until it finishes
                if not self._running:
                    break
                self._changed.wait()
        unfinished = [name for name in self._tasks if name not in self._phases]
        if unfinished and not self._any_failed() and not self._engine.stopped():
            raise ValueError(f"{self._where}: tasks {unfinished} can never run (dependency cycle)")
        for name in unfinished:
            self._omit(name, "not started: the DAG stopped after a failure")
        return self._phases

    def _start_ready_tasks(self) -> bool:
        """Omit tasks whose dependency failed, start those whose dependencies succeeded; True if any was omitted."""
        omitted = False
        may_start = not (self._fail_fast and self._any_failed()) and not self._engine.stopped()
        for name, needs in self._dependencies.items():
            if name in self._phases or name in self._running:
                continue
            if any(self._phases.get(need) in (FAILED, OMITTED) for need in needs):
                self._omit(name, "a dependency failed")
                omitted = True
            elif may_start and all(self._phases.get(need) in (SUCCEEDED, SKIPPED) for need in needs):
                self._running.add(name)
                threading.Thread(target=self._run_task, args=(name, dict(self._scope)), daemon=True).start()
        return omitted

    def _run_task(self, name: str, scope: Scope) -> None:
        task_node = f"{self._node_name}.{name}"
        try:
            record = self._engine.run_task(self._tasks[name], scope, task_node, self._globals)
        except BaseException as error:
            self._engine.record_error(error)
            record = NodeRecord(task_node, self._tasks[name]["template"], "omitted", FAILED, message=str(error))
        with self._changed:
            self._phases[name] = record.phase
            self._scope.update(parameter_scope(f"tasks.{name}.outputs.parameters", record.outputs))
            self._running.discard(name)
            self._changed.notify_all()

    def _omit(self, name: str, reason: str) -> None:
        self._phases[name] = OMITTED
        self._engine.record_omitted(f"{self._node_name}.{name}", self._tasks[name], reason)

    def _any_failed(self) -> bool:
        return any(phase in (FAILED, OMITTED) for phase in self._phases.values())


def _resolve_inputs(template: Template, arguments: Mapping[str, str], globals_: Scope, where: str) -> dict[str, str]:
    """Input parameter values: the caller's argument, else the template's ``value``/``default``."""
    declared = template.get("inputs", {}).get("parameters", [])
    undeclared = set(arguments) - {parameter["name"] for parameter in declared}
    if undeclared:
        raise ValueError(f"{where}: arguments {sorted(undeclared)} are not input parameters of the template")
    values = {}
    for parameter in declared:
        name = parameter["name"]
        if name in arguments:
            values[name] = arguments[name]
        elif "value" in parameter or "default" in parameter:
            fallback = parameter["value"] if "value" in parameter else parameter["default"]
            values[name] = substitute(as_parameter_text(fallback), globals_, where=where)
        else:
            raise ValueError(f"{where}: input parameter {name!r} has no argument and no default")
        check_enum(parameter, values[name], where)
    return values


def _dependencies(task: Template, tasks: Mapping[str, Template], where: str) -> list[str]:
    location = f"{where} task {task['name']!r}"
    if "depends" in task and "dependencies" in task:
        raise ValueError(f"{location}: cannot use both 'depends' and 'dependencies'")
    names = parse_depends(task["depends"], where=location) if "depends" in task else task.get("dependencies", [])
    unknown = [name for name in names if name not in tasks]
    if unknown:
        raise ValueError(f"{location}: depends on unknown tasks {unknown}")
    return list(names)


def _label(item: Any) -> str:
    """Argo-like child label: the item as text, shortened."""
    text = as_parameter_text(item)
    return text if len(text) <= _MAX_ITEM_LABEL else text[:_MAX_ITEM_LABEL] + "..."
