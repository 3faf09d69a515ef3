"""A minimal in-order driver: calls `execute_task` for every task of a flow, one after another.

It exists only so executor tests can cover every graph shape without the local runtime; it computes each task's
index path exactly as the task-identity contract states.
"""

from __future__ import annotations

from pathlib import Path

from flowkit.datastore import DataStore, IndexPath, TaskCoordinates
from flowkit.graph import build_graph
from flowkit.task.executor import TaskResult, execute_task


def execute_flow(
    flow_cls: type, root: Path, run_id: str = "r1", parameters: dict[str, str] | None = None
) -> dict[str, list[TaskResult]]:
    """Run every task of `flow_cls` in topological order; stops after the first step with a failed task."""
    graph = build_graph(flow_cls)
    store = DataStore(root)
    paths: dict[str, list[IndexPath]] = {}
    results: dict[str, list[TaskResult]] = {}
    for name, node in graph.steps.items():
        if node.is_exit_handler:
            continue
        if name == "start":
            paths[name] = [()]
        else:
            parent = graph.steps[node.parents[0]]
            closes = graph.steps[node.joins] if node.is_join and node.joins else None
            if parent.transition == "foreach":
                paths[name] = [
                    (*path, index)
                    for path in paths[parent.name]
                    for index in range(
                        store.successful_record(TaskCoordinates(graph.flow_name, run_id, parent.name, path)).num_splits
                        or 0
                    )
                ]
            elif closes is not None and closes.transition == "foreach":
                paths[name] = paths[closes.name]
            else:
                paths[name] = paths[parent.name]
        results[name] = [
            execute_task(
                flow_cls,
                root,
                TaskCoordinates(graph.flow_name, run_id, name, path),
                parameters=parameters if name == "start" else None,
            )
            for path in paths[name]
        ]
        if not all(result.succeeded for result in results[name]):
            break
    return results
