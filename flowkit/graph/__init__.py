"""The step graph of a flow, read statically from its source and validated before anything runs."""

from __future__ import annotations

from flowkit.authoring.step import GRAPH_CACHE_ATTR, find_steps, step_role
from flowkit.graph.model import FlowGraph, StepNode
from flowkit.specs.resolve import exit_handler
from flowkit.specs.shipped import shipped_snapshot

__all__ = ["FlowGraph", "StepNode", "build_graph"]


def build_graph(flow_cls: type) -> FlowGraph:
    """The validated graph of `flow_cls`; raises `FlowDefinitionError` naming the flow, step and line of a problem.

    The result is cached in the class's own ``__dict__`` and returned from there when present: a class pickled by
    value (defined in `__main__` or a notebook) arrives in a pod with its graph but without its source. In a pod the
    graph shipped with the code package (`flowkit.specs.shipped`) is used as it is: validated when it was packaged.
    """
    cached = vars(flow_cls).get(GRAPH_CACHE_ATTR)
    if isinstance(cached, FlowGraph):
        return cached
    shipped = shipped_snapshot(flow_cls)
    if shipped is not None:
        graph = FlowGraph.from_dict(shipped["graph"])
        setattr(flow_cls, GRAPH_CACHE_ATTR, graph)
        return graph
    # Reading the graph from source loads only here: a pod (shipped graph) never parses or validates anything.
    from flowkit.graph.parse import parse_step
    from flowkit.graph.validate import validate_graph

    flow = flow_cls.__name__
    functions = find_steps(flow_cls)
    parsed = {name: parse_step(flow, name, function) for name, function in functions.items()}
    roles = {name: role for name, function in functions.items() if (role := step_role(function)) is not None}
    graph = validate_graph(flow, parsed, exit_handler(flow_cls), roles)
    setattr(flow_cls, GRAPH_CACHE_ATTR, graph)
    return graph
