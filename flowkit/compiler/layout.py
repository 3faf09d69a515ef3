"""Lay the step graph out as Argo DAG templates, as plain data that can be checked before Hera sees it.

Steps at foreach depth 0 form the entry DAG. The body of a foreach step (the steps between it and its join)
becomes its own DAG template, invoked once per split with ``withParam`` over the JSON list the foreach task
writes; the index path grows by ``.{{item}}`` at each level, so nested foreach become nested DAG templates and a
10,000-way foreach is as small as a 10-way one. A join runs after the body task; it finds its inputs in the
datastore by deterministic task ids, so nothing is passed between tasks except the split list.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from flowkit.compiler.names import dns_label, label_value
from flowkit.compiler.templates import (
    BRANCH_OUTPUT,
    INDEX_PATH_INPUT,
    SPLITS_OUTPUT,
    STEP_INPUT,
    STEP_LABEL_INPUT,
    input_value,
)
from flowkit.errors import FlowDefinitionError

if TYPE_CHECKING:
    from flowkit.graph import FlowGraph

ENTRY_TEMPLATE = "flow"
EXIT_TEMPLATE = "on-exit"


@dataclass
class TaskLayout:
    """One DAG task: a step's container template, or a foreach body invoked per split."""

    name: str
    template: str
    step: str
    arguments: dict[str, str]
    dependencies: list[str] = field(default_factory=list)
    with_param: str | None = None
    when: str | None = None
    """Argo's condition on a task after a switch: true when the switches before it took a branch leading here."""


@dataclass
class DagLayout:
    """One DAG template. ``frame`` is the foreach step whose body it is (None for the entry DAG).

    ``inputs`` are its input parameter names; ``outputs`` maps output parameter names to the task output each one
    exports (only segments of a DAG split for size have outputs, see `flowkit.compiler.segments`).
    """

    name: str
    frame: str | None
    tasks: list[TaskLayout] = field(default_factory=list)
    inputs: list[str] = field(default_factory=list)
    outputs: dict[str, str] = field(default_factory=dict)

    @property
    def index_path(self) -> str:
        """How a task of this DAG names its index path: empty at top level, the DAG's input inside a body."""
        return "" if self.frame is None else input_value(INDEX_PATH_INPUT)


def task_name(step: str) -> str:
    """The DAG task name of a step (Argo task names are RFC 1123-like)."""
    return dns_label(step)


def body_task_name(foreach_step: str) -> str:
    return f"{dns_label(foreach_step, 55)}-foreach"


def body_template_name(foreach_step: str) -> str:
    return f"body-{dns_label(foreach_step, 58)}"


def enclosing_foreach(graph: FlowGraph, step: str) -> str | None:
    """The innermost foreach step whose body contains ``step`` (None at top level)."""
    for enclosing in reversed(graph.steps[step].split_stack):
        if graph.steps[enclosing].transition == "foreach":
            return enclosing
    return None


def _step_arguments(step: str, index_path: str) -> dict[str, str]:
    return {STEP_INPUT: step, STEP_LABEL_INPUT: label_value(step), INDEX_PATH_INPUT: index_path}


def _dependency_in(graph: FlowGraph, parent: str, frame: str | None) -> str | None:
    """The task of DAG ``frame`` that stands for ``parent``: the parent itself, the body task holding it, or None
    when the parent lies outside this DAG (the first step of a body: its parent is the foreach step)."""
    inner: str | None = None
    current = enclosing_foreach(graph, parent)
    while current != frame:
        if current is None:
            return None
        inner, current = current, enclosing_foreach(graph, current)
    return task_name(parent) if inner is None else body_task_name(inner)


def _child_index_path(parent_path: str) -> str:
    return "{{item}}" if not parent_path else f"{parent_path}.{{{{item}}}}"


def lay_out(graph: FlowGraph, template_of: dict[str, str]) -> list[DagLayout]:
    """The entry DAG first, then one DAG per foreach body; ``template_of`` maps steps to container templates."""
    dags: dict[str | None, DagLayout] = {None: DagLayout(name=ENTRY_TEMPLATE, frame=None)}
    for name, node in graph.steps.items():
        if node.transition == "foreach":
            dags[name] = DagLayout(name=body_template_name(name), frame=name, inputs=[INDEX_PATH_INPUT])
    for name, node in graph.steps.items():
        if node.is_exit_handler:
            continue
        dag = dags[enclosing_foreach(graph, name)]
        dependencies = {_dependency_in(graph, parent, dag.frame) for parent in node.parents}
        dag.tasks.append(
            TaskLayout(
                name=task_name(name),
                template=template_of[name],
                step=name,
                arguments=_step_arguments(name, dag.index_path),
                dependencies=sorted(d for d in dependencies if d is not None),
                when=_when(graph, name, dag.frame),
            )
        )
        if node.transition == "foreach":
            dag.tasks.append(
                TaskLayout(
                    name=body_task_name(name),
                    template=body_template_name(name),
                    step=name,
                    arguments={INDEX_PATH_INPUT: _child_index_path(dag.index_path)},
                    dependencies=[task_name(name)],
                    with_param=f"{{{{tasks.{task_name(name)}.outputs.parameters.{SPLITS_OUTPUT}}}}}",
                )
            )
    return list(dags.values())


def _when(graph: FlowGraph, step: str, frame: str | None) -> str | None:
    """The ``when`` of ``step``'s task in the DAG of ``frame``: its `StepNode.runs_if`, over the switches of that DAG.

    A task skipped by ``when`` counts as done for the tasks that depend on it (Argo's ``dependencies``), so every
    task of a branch carries the condition, not only the first, and a step where branches meet runs if any of them
    ran. Switches of an enclosing DAG are left out: the body task that fans out into this DAG carries them.
    The branch names are step names (identifiers), so quoting them in govaluate's single quotes is exact.
    """
    node = graph.steps[step]
    alternatives = []
    for alternative in node.runs_if:
        choices = [(switch, branch) for switch, branch in alternative if enclosing_foreach(graph, switch) == frame]
        if not choices:
            return None  # one way of reaching the step needs no switch of this DAG: it always runs here
        alternatives.append(
            " && ".join(
                f"'{{{{tasks.{task_name(switch)}.outputs.parameters.{BRANCH_OUTPUT}}}}}' == '{branch}'"
                for switch, branch in choices
            )
        )
    if node.transition == "foreach" and alternatives:
        raise FlowDefinitionError(
            "a foreach on a branch of a switch cannot run on Argo, which expands the fan-out (withParam) before it "
            "checks the branch's condition; start the foreach after the switch's branches meet",
            flow=graph.flow_name,
            step=step,
            lineno=node.lineno,
        )
    if len(alternatives) == 1:
        return alternatives[0]
    return " || ".join(f"({alternative})" for alternative in alternatives) or None


def exit_layout(step: str, template: str) -> DagLayout:
    """The onExit handler: a one-task DAG, because a handler template cannot be given arguments directly."""
    task = TaskLayout(name=task_name(step), template=template, step=step, arguments=_step_arguments(step, ""))
    return DagLayout(name=EXIT_TEMPLATE, frame=None, tasks=[task])
