"""A minimal in-order driver: calls `execute_task` for every task of a flow, one after another.

It exists only so executor tests can cover every graph shape without the local runtime; the tasks it runs are the
children `TaskRef.children` names, as for every scheduler.
"""

from __future__ import annotations

from pathlib import Path

from flowkit.graph import build_graph
from flowkit.identity import TaskRef
from flowkit.task.executor import TaskResult, execute_task


def execute_flow(
    flow_cls: type, root: Path, run_id: str = "r1", parameters: dict[str, str] | None = None
) -> dict[str, list[TaskResult]]:
    """Run every task of `flow_cls` in topological order; stops after the first step with a failed task."""
    graph = build_graph(flow_cls)
    start = graph.start_step
    pending: dict[str, dict[TaskRef, None]] = {start: {TaskRef(graph.flow_name, run_id, start): None}}
    results: dict[str, list[TaskResult]] = {}
    for name, node in graph.steps.items():
        if node.is_exit_handler:
            continue
        results[name] = []
        for task in pending.pop(name, {}):
            result = execute_task(flow_cls, root, task, parameters=parameters if name == start else None)
            results[name].append(result)
            for child in task.children(graph, result.num_splits):
                pending.setdefault(child.step, {})[child] = None
        if not all(result.succeeded for result in results[name]):
            break
    return results
