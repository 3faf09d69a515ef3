"""The Gantt chart of a run: one bar per task attempt, one band of lanes per step, time running left to right.

Within a step, attempts are packed into as few lanes as overlap requires (a 1,000-way foreach on 8 workers takes
about 8 lanes, not 1,000 rows), so the chart shows where the time went and how wide the run actually was.
Bars take their step's colour; failed attempts are red. Each bar links to its task page and names itself on hover.
"""

from __future__ import annotations

import heapq
import html
from dataclasses import dataclass
from datetime import datetime

from flowkit.cards.dag import STATUS_COLOURS

STEP_COLOURS = ["#4c78a8", "#72b7b2", "#b279a2", "#9d755d", "#5e7fa8", "#8d8f3f", "#6a5d9c", "#3f8f8f"]
"""Bars are coloured by step from hues that no status uses (red, orange and green mean failed, retrying, ok)."""

_LABEL_WIDTH, _LANE_HEIGHT, _BAND_GAP, _AXIS_HEIGHT, _PAD = 130, 12, 8, 24, 8


@dataclass(frozen=True)
class TimelineBar:
    step: str
    task_id: str
    attempt: int
    started_at: datetime
    finished_at: datetime
    succeeded: bool
    href: str | None = None


def render_timeline(bars: list[TimelineBar], *, width: int = 1100) -> str:
    """An ``<svg>`` Gantt chart of ``bars`` (an empty run draws a note instead)."""
    if not bars:
        return '<p class="fk-meta">No task attempt has committed yet.</p>'
    origin = min(bar.started_at for bar in bars)
    span = max((max(bar.finished_at for bar in bars) - origin).total_seconds(), 1e-3)
    plot_width = width - _LABEL_WIDTH - 2 * _PAD
    scale = plot_width / span
    steps = list(dict.fromkeys(bar.step for bar in sorted(bars, key=lambda bar: bar.started_at)))
    lanes = {step: _pack([bar for bar in bars if bar.step == step]) for step in steps}
    height = _AXIS_HEIGHT + sum(len(lanes[step]) * _LANE_HEIGHT + _BAND_GAP for step in steps) + _PAD
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="fk-timeline" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" font-family="sans-serif" font-size="11">'
    ]
    parts += _axis(span, scale, height)
    y = _AXIS_HEIGHT
    for number, step in enumerate(steps):
        colour = STEP_COLOURS[number % len(STEP_COLOURS)]
        band_height = len(lanes[step]) * _LANE_HEIGHT
        parts.append(f'<text x="{_PAD}" y="{y + min(band_height, 14) - 3}">{html.escape(step)}</text>')
        for lane_number, lane in enumerate(lanes[step]):
            for bar in lane:
                x = _LABEL_WIDTH + (bar.started_at - origin).total_seconds() * scale
                bar_width = max((bar.finished_at - bar.started_at).total_seconds() * scale, 1.0)
                parts.append(_bar_svg(bar, x, y + lane_number * _LANE_HEIGHT, bar_width, colour))
        y += band_height + _BAND_GAP
    parts.append("</svg>")
    return "".join(parts)


def _pack(bars: list[TimelineBar]) -> list[list[TimelineBar]]:
    """Greedy interval packing: each bar goes to the lane that freed up earliest, if it is free by the bar's start."""
    lanes: list[list[TimelineBar]] = []
    free_at: list[tuple[datetime, int]] = []
    for bar in sorted(bars, key=lambda bar: bar.started_at):
        if free_at and free_at[0][0] <= bar.started_at:
            _, lane = heapq.heappop(free_at)
        else:
            lane = len(lanes)
            lanes.append([])
        lanes[lane].append(bar)
        heapq.heappush(free_at, (bar.finished_at, lane))
    return lanes


def _axis(span: float, scale: float, height: int) -> list[str]:
    step = next(
        s for s in (0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30, 60, 300, 600, 1800, 3600, 7200, 21600) if span / s <= 10
    )
    parts = []
    tick = 0.0
    while tick <= span:
        x = _LABEL_WIDTH + tick * scale
        parts.append(f'<line x1="{x:.1f}" y1="{_AXIS_HEIGHT - 6}" x2="{x:.1f}" y2="{height}" stroke="#eceff1"/>')
        parts.append(f'<text x="{x:.1f}" y="{_AXIS_HEIGHT - 9}" text-anchor="middle">{_seconds(tick)}</text>')
        tick += step
    return parts


def _bar_svg(bar: TimelineBar, x: float, y: float, width: float, colour: str) -> str:
    duration = (bar.finished_at - bar.started_at).total_seconds()
    fill = colour if bar.succeeded else STATUS_COLOURS["failed"]
    outcome = "succeeded" if bar.succeeded else "failed"
    title = f"{bar.step}/{bar.task_id} attempt {bar.attempt}: {outcome} in {duration:.2f} s"
    rect = (
        f'<rect class="fk-bar" data-status="{outcome}" x="{x:.1f}" y="{y + 1:.1f}" width="{width:.1f}" '
        f'height="{_LANE_HEIGHT - 2}" fill="{fill}"><title>{html.escape(title)}</title></rect>'
    )
    return f'<a href="{html.escape(bar.href)}">{rect}</a>' if bar.href else rect


def _seconds(value: float) -> str:
    if value >= 3600:
        return f"{value / 3600:g} h"
    return f"{value / 60:g} min" if value >= 60 else f"{value:g} s"
