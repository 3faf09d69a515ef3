"""Draw a flow's step graph as inline SVG: for a card (the task's step highlighted), the web UI and notebooks.

Standard library only, because the default card is drawn inside the task. Steps are laid out left to right by
their longest distance from ``start``, so a split's branches stand in one column and its join after the longest
branch. A step can carry its tasks as small cells coloured by status (a foreach step shows one cell per task), each
linking to its task page; with thousands of tasks the cells shrink so the picture stays readable.
"""

from __future__ import annotations

import html
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from flowkit.graph.model import FlowGraph, StepNode

STATUS_COLOURS = {
    "succeeded": "#43a047",
    "failed": "#e53935",
    "running": "#1e88e5",
    "retrying": "#fb8c00",
    "pending": "#bdbdbd",
}
"""Fill of a task cell (and tint of a step box) per status; the UI's legend uses the same colours."""

_STEP_TINTS = {
    "succeeded": "#e8f5e9",
    "failed": "#ffebee",
    "running": "#e3f2fd",
    "retrying": "#fff3e0",
    "pending": "#fafafa",
}
_NODE_WIDTH, _HEADER_HEIGHT, _COLUMN_GAP, _ROW_GAP, _PAD = 148, 40, 40, 22, 12


@dataclass(frozen=True)
class TaskCell:
    """One task drawn inside its step's box."""

    task_id: str
    status: str
    href: str | None = None
    title: str = ""


@dataclass
class _Box:
    node: StepNode
    x: float
    y: float
    height: float
    cells: Sequence[TaskCell]
    cell_size: int
    per_row: int


_OUTLINED: dict[int, tuple[FlowGraph, dict[str, str]]] = {}
"""Per graph (by identity; the entry keeps the graph alive, so its id is not reused): each step's outlined DAG."""


def outlined_dag(graph: FlowGraph, step: str) -> str:
    """``render_dag(graph, highlight=step)``, drawn once per graph and step and then kept.

    Every task of a step shows the same picture in its cards, and a scheduler that forks its tasks draws it before
    forking (`flowkit.task.executor.prepare_forked_tasks`), so a forked task only copies it into its card.
    """
    drawn = _OUTLINED.setdefault(id(graph), (graph, {}))[1]
    svg = drawn.get(step)
    if svg is None:
        svg = drawn[step] = render_dag(graph, highlight=step)
    return svg


def render_dag(
    graph: FlowGraph,
    *,
    highlight: str | None = None,
    tasks: Mapping[str, Sequence[TaskCell]] | None = None,
    step_titles: Mapping[str, str] | None = None,
    step_links: Mapping[str, str] | None = None,
) -> str:
    """The ``<svg>`` of ``graph``; ``tasks`` colours steps by their tasks' statuses, ``highlight`` outlines a step."""
    tasks = tasks or {}
    boxes = _layout(graph, tasks)
    width = max((box.x + _NODE_WIDTH for box in boxes.values()), default=0) + _PAD
    height = max((box.y + box.height for box in boxes.values()), default=0) + _PAD
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="fk-dag" width="{width:.0f}" height="{height:.0f}" '
        f'viewBox="0 0 {width:.0f} {height:.0f}" font-family="sans-serif" font-size="12">',
        '<defs><marker id="fk-arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" '
        'orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="#78909c"/></marker></defs>',
    ]
    for box in boxes.values():
        parts += _edges(box, boxes)
    for box in boxes.values():
        parts.append(
            _box_svg(box, highlight, (step_titles or {}).get(box.node.name), (step_links or {}).get(box.node.name))
        )
    parts.append("</svg>")
    return "".join(parts)


def step_status(cells: Sequence[TaskCell]) -> str:
    """A step's status from its tasks': failed wins, then running, then retrying; succeeded only when all did."""
    statuses = {cell.status for cell in cells}
    for status in ("failed", "running", "retrying"):
        if status in statuses:
            return status
    return "succeeded" if statuses == {"succeeded"} else "pending"


def _layout(graph: FlowGraph, tasks: Mapping[str, Sequence[TaskCell]]) -> dict[str, _Box]:
    rank: dict[str, int] = {}
    for name, node in graph.steps.items():
        if node.is_exit_handler:
            rank[name] = max(rank.values(), default=-1) + 1
            continue
        rank.setdefault(name, 0)
        for child in node.out:
            rank[child] = max(rank.get(child, 0), rank[name] + 1)
    columns: dict[int, list[str]] = {}
    for name in graph.steps:
        columns.setdefault(rank[name], []).append(name)
    sized = {name: _cell_grid(len(tasks.get(name, ()))) for name in graph.steps}
    heights = {name: _HEADER_HEIGHT + _grid_height(len(tasks.get(name, ())), *sized[name]) for name in graph.steps}
    boxes: dict[str, _Box] = {}
    for column, names in sorted(columns.items()):
        y = float(_PAD)  # top-aligned: the main line stays straight, branches hang below it
        for name in names:
            size, per_row = sized[name]
            x = _PAD + column * (_NODE_WIDTH + _COLUMN_GAP)
            boxes[name] = _Box(graph.steps[name], x, y, heights[name], tasks.get(name, ()), size, per_row)
            y += heights[name] + _ROW_GAP
    return boxes


def _cell_grid(count: int) -> tuple[int, int]:
    """Cell size and cells per row: large cells for a few tasks, small ones for thousands."""
    if count <= 1:
        return 0, 0  # a single task is the step itself: the box's colour says its status
    size = 12 if count <= 100 else 6 if count <= 1000 else 4
    return size, (_NODE_WIDTH - 2 * 8) // size


def _grid_height(count: int, size: int, per_row: int) -> int:
    return 0 if size == 0 else math.ceil(count / per_row) * size + 8


def _edges(box: _Box, boxes: dict[str, _Box]) -> list[str]:
    parts = []
    node = box.node
    start_x, start_y = box.x + _NODE_WIDTH, box.y + _HEADER_HEIGHT / 2
    for child in node.out:
        target = boxes[child]
        end_x, end_y = target.x, target.y + _HEADER_HEIGHT / 2
        # An edge skipping columns runs level at its source's height, then bends into the target over the last gap.
        level_to = max(start_x, end_x - _COLUMN_GAP)
        bend = (end_x - level_to) / 2
        dashed = ' stroke-dasharray="5,3"' if node.transition == "foreach" else ""
        parts.append(
            f'<path class="fk-edge" d="M{start_x:.1f},{start_y:.1f} L{level_to:.1f},{start_y:.1f} '
            f'C{level_to + bend:.1f},{start_y:.1f} {end_x - bend:.1f},{end_y:.1f} {end_x:.1f},{end_y:.1f}" '
            f'fill="none" stroke="#78909c" stroke-width="1.5"{dashed} marker-end="url(#fk-arrow)"/>'
        )
    return parts


def _box_svg(box: _Box, highlight: str | None, title: str | None, link: str | None) -> str:
    node = box.node
    status = step_status(box.cells) if box.cells else "pending"
    tint = _STEP_TINTS[status] if box.cells else "#ffffff"
    border = "#37474f" if node.name == highlight else STATUS_COLOURS[status] if box.cells else "#90a4ae"
    stroke = 3 if node.name == highlight else 1.5
    dash = ' stroke-dasharray="4,3"' if node.is_exit_handler else ""
    tip = f"<title>{html.escape(title or _describe(node))}</title>"
    name = html.escape(node.name)
    parts = [
        f'<g class="fk-step fk-step-{status}" data-step="{name}" data-status="{status}">{tip}',
        f'<rect x="{box.x:.1f}" y="{box.y:.1f}" width="{_NODE_WIDTH}" height="{box.height:.1f}" rx="6" '
        f'fill="{tint}" stroke="{border}" stroke-width="{stroke}"{dash}/>',
    ]
    label = f'<text x="{box.x + 10:.1f}" y="{box.y + 17:.1f}" font-weight="bold">{name}</text>'
    parts.append(f'<a href="{html.escape(link)}">{label}</a>' if link else label)
    parts.append(
        f'<text x="{box.x + 10:.1f}" y="{box.y + 32:.1f}" fill="#607d8b" font-size="10">'
        f"{html.escape(_subtitle(node, len(box.cells)))}</text>"
    )
    for number, cell in enumerate(box.cells if box.cell_size else ()):
        row, column = divmod(number, box.per_row)
        cx = box.x + 8 + column * box.cell_size
        cy = box.y + _HEADER_HEIGHT + row * box.cell_size
        inner = box.cell_size - 1
        fill = STATUS_COLOURS.get(cell.status, STATUS_COLOURS["pending"])
        rect = (
            f'<rect class="fk-task" data-task="{html.escape(cell.task_id)}" data-status="{cell.status}" '
            f'x="{cx:.0f}" y="{cy:.0f}" width="{inner}" height="{inner}" fill="{fill}">'
            f"<title>{html.escape(cell.title or cell.task_id + ': ' + cell.status)}</title></rect>"
        )
        parts.append(f'<a href="{html.escape(cell.href)}">{rect}</a>' if cell.href else rect)
    parts.append("</g>")
    return "".join(parts)


def _subtitle(node: StepNode, task_count: int) -> str:
    if node.transition == "foreach":
        text = f"foreach {node.foreach_var}"
    elif node.transition == "split":
        text = "split"
    elif node.is_join:
        text = "join"
    elif node.is_exit_handler:
        text = "exit handler"
    else:
        text = ""
    if task_count > 1:
        text = f"{text} · {task_count} tasks" if text else f"{task_count} tasks"
    return text


def _describe(node: StepNode) -> str:
    first_line = (node.doc or "").strip().splitlines()[:1]
    return f"{node.name} ({node.transition})" + (f": {first_line[0]}" if first_line else "")
