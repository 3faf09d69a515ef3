"""Keep every DAG template within Argo's size limits by nesting: a DAG too big for one template becomes segments.

Argo's CRDs accept at most `MAX_DAG_TASKS` tasks in one DAG template (``dag.tasks`` has ``maxItems: 200``), so a
1,000-step chain or a 300-way static split laid out as one DAG would be refused by the API server. Such a DAG is
cut into segments, each its own DAG template of at most `MAX_DAG_TASKS` tasks, and the original DAG template keeps
only one task per segment, chained by the dependencies that cross segments. If that is still too many tasks, the
same cut is applied again, one more level of nesting each time.

The cut follows the DAG's levels (a task's level is the length of the longest dependency chain leading to it):
consecutive levels fill a segment, and a level too wide for one segment is spread over segments of its own, which
depend only on earlier segments and therefore run side by side, as the branches of a wide split do. A segment task
waits for the whole segments its tasks depend on, so a task may start a little later than in a flat DAG (it waits
for its segment's slowest predecessor), never earlier: the run's results are the same.

What crosses a segment boundary is carried explicitly, because a DAG template sees neither its caller's tasks nor
its caller's inputs:
- a dependency on a task of another segment becomes a dependency of the segment task on that segment's task;
- an output parameter a task reads from a task of another segment (the split list a foreach fan-out's
  ``withParam`` reads) is exported as an output parameter of the producing segment, passed by the caller to the
  consuming segment as an argument, and read there as an input parameter;
- an input of the original DAG (a foreach body's index path) is passed down to each segment that uses it.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import replace
from itertools import count

from flowkit.compiler.layout import DagLayout, TaskLayout
from flowkit.compiler.templates import input_value

MAX_DAG_TASKS = 200
"""Most tasks in one DAG template: ``maxItems`` of ``spec.templates[].dag.tasks`` in Argo's CRDs."""

MAX_TEMPLATES = 200
"""Most templates in one WorkflowTemplate: ``maxItems`` of ``spec.templates`` in Argo's CRDs."""

_TASK_OUTPUT = re.compile(r"\{\{tasks\.([A-Za-z0-9-]+)\.outputs\.parameters\.([A-Za-z0-9_-]+)\}\}")
_INPUT = re.compile(r"\{\{inputs\.parameters\.([A-Za-z0-9_-]+)\}\}")


def split_large_dags(dags: list[DagLayout], limit: int = MAX_DAG_TASKS) -> list[DagLayout]:
    """``dags`` with every DAG of more than ``limit`` tasks replaced by itself (now calling its segments) followed
    by the segments' DAG templates; DAGs within the limit are returned unchanged.

    Each cut leaves fewer tasks than it started with as long as ``limit`` >= 2 (one-task levels pack in pairs at
    least, a wider level has fewer chunks than tasks), so the repeated cut ends.
    """
    if limit < 2:
        raise ValueError(f"a DAG limit of {limit} cannot be reached by nesting; it must be at least 2")
    result: list[DagLayout] = []
    for dag in dags:
        numbers = count(1)
        segments: list[DagLayout] = []
        while len(dag.tasks) > limit:
            dag, new_segments = _split(dag, limit, numbers)
            segments += new_segments
        result += [dag, *segments]
    return result


def segment_template_name(dag: str, number: int) -> str:
    """``<dag>--part-<n>``: derived names never contain ``--``, so this cannot clash with a body or step name."""
    return f"{dag}--part-{number}"


def _levels(tasks: list[TaskLayout]) -> list[list[TaskLayout]]:
    """Tasks grouped by the length of the longest dependency chain leading to them, in the DAG's task order."""
    by_name = {task.name: task for task in tasks}
    level: dict[str, int] = {}
    for task in _topological(tasks, by_name):
        level[task.name] = 1 + max((level[dependency] for dependency in task.dependencies), default=-1)
    grouped: list[list[TaskLayout]] = [[] for _ in range(max(level.values(), default=-1) + 1)]
    for task in tasks:
        grouped[level[task.name]].append(task)
    return grouped


def _topological(tasks: list[TaskLayout], by_name: dict[str, TaskLayout]) -> Iterator[TaskLayout]:
    """Every task after its dependencies (the layout is already checked to be acyclic)."""
    done: set[str] = set()
    for root in tasks:
        stack = [(root, False)]
        while stack:
            task, expanded = stack.pop()
            if task.name in done:
                continue
            if expanded:
                done.add(task.name)
                yield task
                continue
            stack.append((task, True))
            stack.extend((by_name[name], False) for name in task.dependencies if name not in done)


def _partition(tasks: list[TaskLayout], limit: int) -> list[list[TaskLayout]]:
    """Consecutive levels packed into segments of at most ``limit`` tasks; a wider level gets segments of its own."""
    segments: list[list[TaskLayout]] = []
    current: list[TaskLayout] = []
    for level in _levels(tasks):
        if len(current) + len(level) <= limit:
            current += level
            continue
        if current:
            segments.append(current)
        current = []
        if len(level) <= limit:
            current = list(level)
        else:
            # Closed at once: a later level joining the last chunk would make that chunk wait for the others.
            segments += [level[start : start + limit] for start in range(0, len(level), limit)]
    if current:
        segments.append(current)
    return segments


class _Cut:
    """One DAG being cut into segments: the segment templates, the caller's task for each, and what crosses."""

    def __init__(self, dag: DagLayout, groups: list[list[TaskLayout]], numbers: Iterator[int]) -> None:
        self.segment_of = {task.name: index for index, group in enumerate(groups) for task in group}
        self.segments: list[DagLayout] = []
        self.callers: list[TaskLayout] = []
        for group in groups:
            number = next(numbers)
            self.segments.append(DagLayout(name=segment_template_name(dag.name, number), frame=dag.frame))
            self.callers.append(
                TaskLayout(name=f"part-{number}", template=self.segments[-1].name, step=group[0].step, arguments={})
            )
        self.upstream: list[set[int]] = [set() for _ in groups]

    def carry(self, text: str, index: int) -> str:
        """``text`` of a task of segment ``index``, reading through the segment's inputs what lies outside it."""
        if "{{" not in text:  # a step name, a top-level index path: most of a large DAG's values
            return text
        segment, caller = self.segments[index], self.callers[index]
        for name in _INPUT.findall(text):
            if name not in caller.arguments:
                caller.arguments[name] = input_value(name)
                segment.inputs.append(name)

        def imported(match: re.Match[str]) -> str:
            producer = self.segment_of[match.group(1)]
            if producer == index:
                return match.group(0)
            exported = f"{match.group(1)}-{match.group(2)}"
            self.segments[producer].outputs[exported] = match.group(0)
            if exported not in caller.arguments:
                caller.arguments[exported] = (
                    "{{tasks." + self.callers[producer].name + ".outputs.parameters." + exported + "}}"
                )
                segment.inputs.append(exported)
            self.upstream[index].add(producer)
            return input_value(exported)

        return _TASK_OUTPUT.sub(imported, text)


def _split(dag: DagLayout, limit: int, numbers: Iterator[int]) -> tuple[DagLayout, list[DagLayout]]:
    """``dag`` calling one task per segment, and the segments' DAG templates."""
    groups = _partition(dag.tasks, limit)
    cut = _Cut(dag, groups, numbers)
    for index, group in enumerate(groups):
        for task in group:
            cut.upstream[index].update(cut.segment_of[name] for name in task.dependencies)
            cut.segments[index].tasks.append(
                replace(
                    task,
                    arguments={key: cut.carry(value, index) for key, value in task.arguments.items()},
                    dependencies=[name for name in task.dependencies if cut.segment_of[name] == index],
                    with_param=None if task.with_param is None else cut.carry(task.with_param, index),
                    when=None if task.when is None else cut.carry(task.when, index),
                )
            )
    for index, caller in enumerate(cut.callers):
        caller.dependencies = [cut.callers[producer].name for producer in sorted(cut.upstream[index] - {index})]
    return replace(dag, tasks=cut.callers), cut.segments
