"""The step graph as Mermaid or Graphviz DOT text (`show --format mermaid|dot`, `output-dot`).

Shapes say what a step does: start and end are rounded, a static split is a diamond, a foreach a hexagon (its
fan-out edge dashed and labelled with the variable), a join a trapezoid, an exit handler a dashed box outside the
DAG. Each step's resolved pod settings (given by the caller as short lines) are written under its name and again as
the node's hover tooltip (DOT's ``tooltip`` attribute, Mermaid's ``click <node> callback "<tooltip>"``), so a rendered
picture shows where each step runs even when its labels are too small to read.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence

from flowkit.graph.model import FlowGraph, StepNode

_MERMAID_SHAPES = {"terminal": ("([", "])"), "split": ("{", "}"), "foreach": ("{{", "}}"), "join": ("[/", "\\]")}
_DOT_SHAPES = {"terminal": "oval", "split": "diamond", "foreach": "hexagon", "join": "invtrapezium"}


def to_mermaid(graph: FlowGraph, settings: Mapping[str, Sequence[str]]) -> str:
    """A Mermaid ``flowchart LR`` of the graph."""
    lines = ["flowchart LR"]
    for node in graph.steps.values():
        opening, closing = _MERMAID_SHAPES.get(_kind(node), ("[", "]"))
        label = "<br/>".join([f"<b>{node.name}</b>", *settings.get(node.name, ())]).replace('"', "#quot;")
        lines.append(f'    {_mermaid_id(node.name)}{opening}"{label}"{closing}')
        if node.is_exit_handler:
            lines.append(f"    style {_mermaid_id(node.name)} stroke-dasharray: 5 5")
    for node in graph.steps.values():
        for target in node.out:
            arrow = f"-. foreach {node.foreach_var} .->" if node.transition == "foreach" else "-->"
            lines.append(f"    {_mermaid_id(node.name)} {arrow} {_mermaid_id(target)}")
    for node in graph.steps.values():
        # Mermaid's tooltip is a one-line string it cannot escape a double quote in.
        tooltip = _tooltip(node, settings, separator=", ").replace('"', "'")
        lines.append(f'    click {_mermaid_id(node.name)} callback "{tooltip}"')
    return "\n".join(lines) + "\n"


def to_dot(graph: FlowGraph, settings: Mapping[str, Sequence[str]]) -> str:
    """A Graphviz ``digraph`` of the graph (render with ``dot -Tsvg``)."""
    lines = [
        f"digraph {_quote(graph.flow_name)} {{",
        "    rankdir=LR;",
        '    node [fontname="Helvetica", fontsize=11, style=filled, fillcolor="#f5f7f8"];',
    ]
    for node in graph.steps.values():
        details = list(settings.get(node.name, ()))
        attributes = {
            "shape": _DOT_SHAPES.get(_kind(node), "box"),
            "label": "\n".join([node.name, *details]),
            "tooltip": _tooltip(node, settings, separator="\n"),
        }
        if node.is_exit_handler:
            attributes["style"] = "dashed"
        lines.append(
            f"    {_quote(node.name)} [{', '.join(f'{key}={_quote(value)}' for key, value in attributes.items())}];"
        )
    for node in graph.steps.values():
        for target in node.out:
            edge = (
                f" [style=dashed, label={_quote('foreach ' + str(node.foreach_var))}]"
                if node.transition == "foreach"
                else ""
            )
            lines.append(f"    {_quote(node.name)} -> {_quote(target)}{edge};")
    lines.append("}")
    return "\n".join(lines) + "\n"


def _tooltip(node: StepNode, settings: Mapping[str, Sequence[str]], *, separator: str) -> str:
    """What hovering a step shows: its pod settings, or its name when it runs with the defaults."""
    return separator.join(settings.get(node.name, ())) or node.name


def _kind(node: StepNode) -> str:
    """What the shape shows: fanning out first (a start that splits is a split), then joining, then start/end."""
    if node.transition in ("split", "foreach"):
        return node.transition
    if node.is_join:
        return "join"
    first_or_last = not node.parents or node.transition == "end"  # whatever their names (@step(start=True))
    return "terminal" if first_or_last and not node.is_exit_handler else "step"


def _mermaid_id(step: str) -> str:
    """Mermaid reserves some words as node ids (``end`` closes a subgraph), so every id gets a prefix."""
    return f"step_{step}"


def _quote(text: str) -> str:
    """A DOT string literal (JSON escaping is a valid subset of DOT's)."""
    return json.dumps(text)
