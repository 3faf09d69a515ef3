"""Draw a Vega-Lite spec as inline SVG, with the standard library only (cards must work offline and in bare pods).

The Vega runtime is a JavaScript bundle loaded from a CDN in most setups; a card has to open on an air-gapped
cluster's PVC mount and be rendered in a pod without Node. This covers the common single-view charts: inline
``data.values``; marks ``bar``, ``line``, ``area``, ``point``, ``circle``, ``square`` and ``tick``; ``x``/``y``
encodings of type quantitative, nominal, ordinal or temporal; an optional ``color`` field splitting the data into
series (with a legend); ``title``, ``width`` and ``height``. Anything else (layers, facets, data URLs, transforms,
aggregates) is reported in the card, next to the spec, rather than drawn wrongly.
"""

from __future__ import annotations

import html
import json
import math
from dataclasses import dataclass
from datetime import datetime
from typing import Any

PALETTE = ["#4c78a8", "#f58518", "#e45756", "#72b7b2", "#54a24b", "#eeca3b", "#b279a2", "#ff9da6", "#9d755d"]
"""Vega's default categorical scheme ("tableau10"), so colours look as users expect."""

_MARKS = {"bar", "line", "area", "point", "circle", "square", "tick"}
_UNSUPPORTED_KEYS = ("layer", "hconcat", "vconcat", "concat", "facet", "repeat", "transform")
_MARGIN_LEFT, _MARGIN_RIGHT, _MARGIN_TOP, _MARGIN_BOTTOM = 56, 16, 28, 44
_LEGEND_WIDTH = 120


class UnsupportedSpec(ValueError):
    """The spec uses Vega-Lite features this renderer does not draw."""


def render_vega_lite(spec: dict[str, Any]) -> str:
    """An ``<svg>`` element drawing ``spec``, or a note naming what is unsupported followed by the spec itself."""
    try:
        return _Chart(spec).svg()
    except (UnsupportedSpec, KeyError, TypeError, ValueError) as error:
        note = html.escape(f"This chart cannot be drawn offline: {error}")
        dump = html.escape(json.dumps(spec, indent=1, default=str)[:5000])
        return f'<div class="fk-error">{note}</div><pre>{dump}</pre>'


@dataclass
class _Channel:
    field: str
    kind: str
    """quantitative, nominal, ordinal or temporal."""
    title: str


class _Scale:
    """Maps data values to pixels: linear for numbers and times, evenly spaced bands for categories."""

    def __init__(self, channel: _Channel, values: list[Any], start: float, end: float, *, zero: bool) -> None:
        self.channel, self.start, self.end = channel, start, end
        self.categorical = channel.kind in ("nominal", "ordinal")
        if self.categorical:
            self.categories = list(dict.fromkeys(str(value) for value in values))
            self.band = (end - start) / max(len(self.categories), 1)
        else:
            numbers = [_number(value, channel) for value in values]
            low, high = (min(numbers), max(numbers)) if numbers else (0.0, 1.0)
            if zero and channel.kind == "quantitative":
                low, high = min(low, 0.0), max(high, 0.0)
            self.ticks = _nice_ticks(low, high)
            self.low, self.high = self.ticks[0], self.ticks[-1]

    def __call__(self, value: Any) -> float:
        """The pixel of ``value`` (a band's centre for a category)."""
        if self.categorical:
            return self.start + self.band * (self.categories.index(str(value)) + 0.5)
        span = (self.high - self.low) or 1.0
        return self.start + (self.end - self.start) * (_number(value, self.channel) - self.low) / span

    def tick_labels(self) -> list[tuple[float, str]]:
        if self.categorical:
            return [(self(category), category) for category in self.categories]
        return [(self(tick), _format_tick(tick, self.channel)) for tick in self.ticks]


class _Chart:
    def __init__(self, spec: dict[str, Any]) -> None:
        present = [key for key in _UNSUPPORTED_KEYS if key in spec]
        if present:
            raise UnsupportedSpec(f"{', '.join(present)} is not supported (one view with inline data.values is)")
        data = spec.get("data") or {}
        if "values" not in data:
            raise UnsupportedSpec("only inline data (data.values) can be drawn without network access")
        self.rows: list[dict[str, Any]] = list(data["values"])
        mark = spec.get("mark")
        self.mark = mark.get("type") if isinstance(mark, dict) else mark
        if self.mark not in _MARKS:
            raise UnsupportedSpec(f"mark {self.mark!r} is not one of {', '.join(sorted(_MARKS))}")
        encoding = spec.get("encoding") or {}
        self.x, self.y = _channel(encoding, "x"), _channel(encoding, "y")
        color = encoding.get("color")
        self.color_field = color.get("field") if isinstance(color, dict) else None
        title = spec.get("title")
        self.title = title.get("text") if isinstance(title, dict) else title
        self.width = int(spec.get("width", 400)) if isinstance(spec.get("width", 400), (int, float)) else 400
        self.height = int(spec.get("height", 240)) if isinstance(spec.get("height", 240), (int, float)) else 240

    def svg(self) -> str:
        legend = _LEGEND_WIDTH if self.color_field else 0
        total_width = _MARGIN_LEFT + self.width + _MARGIN_RIGHT + legend
        total_height = _MARGIN_TOP + self.height + _MARGIN_BOTTOM
        left, right, top, bottom = _MARGIN_LEFT, _MARGIN_LEFT + self.width, _MARGIN_TOP, _MARGIN_TOP + self.height
        zero = self.mark in ("bar", "area")
        x = _Scale(self.x, [row[self.x.field] for row in self.rows], left, right, zero=zero)
        y = _Scale(self.y, [row[self.y.field] for row in self.rows], bottom, top, zero=zero)
        series = self._series()
        parts = [
            f'<svg xmlns="http://www.w3.org/2000/svg" class="fk-chart" width="{total_width}" height="{total_height}" '
            f'viewBox="0 0 {total_width} {total_height}" font-family="sans-serif" font-size="11">'
        ]
        if self.title:
            parts.append(f'<text x="{left}" y="16" font-size="13" font-weight="bold">{_text(self.title)}</text>')
        parts += _axes(x, y, left, right, top, bottom)
        for number, (name, rows) in enumerate(series.items()):
            colour = PALETTE[number % len(PALETTE)]
            parts += self._marks(rows, x, y, colour, len(series), number)
            if self.color_field:
                legend_y = top + 14 * number
                parts.append(f'<rect x="{right + 16}" y="{legend_y}" width="10" height="10" fill="{colour}"/>')
                parts.append(f'<text x="{right + 30}" y="{legend_y + 9}">{_text(name)}</text>')
        parts.append("</svg>")
        return "".join(parts)

    def _series(self) -> dict[str, list[dict[str, Any]]]:
        if not self.color_field:
            return {"": self.rows}
        series: dict[str, list[dict[str, Any]]] = {}
        for row in self.rows:
            series.setdefault(str(row.get(self.color_field)), []).append(row)
        return series

    def _marks(
        self, rows: list[dict[str, Any]], x: _Scale, y: _Scale, colour: str, count: int, number: int
    ) -> list[str]:
        points = [(x(row[self.x.field]), y(row[self.y.field]), row) for row in rows]
        if self.mark in ("line", "area"):
            points.sort(
                key=lambda point: point[0] if not x.categorical else x.categories.index(str(point[2][self.x.field]))
            )
            path = " ".join(f"{'M' if i == 0 else 'L'}{px:.1f},{py:.1f}" for i, (px, py, _) in enumerate(points))
            if self.mark == "line":
                return [f'<path d="{path}" fill="none" stroke="{colour}" stroke-width="2"/>']
            base = y(0) if not y.categorical else y.start
            closed = f"{path} L{points[-1][0]:.1f},{base:.1f} L{points[0][0]:.1f},{base:.1f} Z" if points else ""
            return [f'<path d="{closed}" fill="{colour}" fill-opacity="0.7" stroke="{colour}"/>']
        if self.mark == "bar":
            return [self._bar(px, py, row, x, y, colour, count, number) for px, py, row in points]
        if self.mark == "tick":
            return [
                f'<line x1="{px - 6:.1f}" y1="{py:.1f}" x2="{px + 6:.1f}" y2="{py:.1f}" stroke="{colour}"/>'
                for px, py, _ in points
            ]
        shape = "rect" if self.mark == "square" else "circle"
        filled = "" if self.mark == "point" else f' fill="{colour}"'
        marks = []
        for px, py, row in points:
            tip = f"<title>{_text(row.get(self.x.field))}, {_text(row.get(self.y.field))}</title>"
            if shape == "rect":
                marks.append(f'<rect x="{px - 3:.1f}" y="{py - 3:.1f}" width="6" height="6"{filled}>{tip}</rect>')
            else:
                stroke = filled or f' fill="none" stroke="{colour}" stroke-width="2"'
                marks.append(f'<circle cx="{px:.1f}" cy="{py:.1f}" r="3.5"{stroke}>{tip}</circle>')
        return marks

    def _bar(
        self, px: float, py: float, row: dict[str, Any], x: _Scale, y: _Scale, colour: str, count: int, number: int
    ) -> str:
        tip = f"<title>{_text(row.get(self.x.field))}: {_text(row.get(self.y.field))}</title>"
        if x.categorical or not y.categorical:  # vertical bars from the value axis' zero
            band = x.band if x.categorical else max(self.width / max(len(self.rows), 1) * 0.8, 2)
            width = band * 0.8 / count
            left = px - band * 0.4 + width * number
            base = y(0) if not y.categorical else y.start
            return _rect(left, min(py, base), width, abs(base - py), colour, tip)
        height = y.band * 0.8 / count  # horizontal bars: y is the category
        base = x(0)
        return _rect(min(px, base), py + y.band * 0.4 - height * (number + 1), abs(px - base), height, colour, tip)


def _rect(x: float, y: float, width: float, height: float, colour: str, tip: str) -> str:
    return f'<rect x="{x:.1f}" y="{y:.1f}" width="{width:.1f}" height="{height:.1f}" fill="{colour}">{tip}</rect>'


def _axes(x: _Scale, y: _Scale, left: float, right: float, top: float, bottom: float) -> list[str]:
    parts = [
        f'<line x1="{left}" y1="{bottom}" x2="{right}" y2="{bottom}" stroke="#888"/>',
        f'<line x1="{left}" y1="{top}" x2="{left}" y2="{bottom}" stroke="#888"/>',
    ]
    for position, label in x.tick_labels():
        parts.append(f'<line x1="{position:.1f}" y1="{bottom}" x2="{position:.1f}" y2="{bottom + 4}" stroke="#888"/>')
        parts.append(f'<text x="{position:.1f}" y="{bottom + 16}" text-anchor="middle">{_text(label)}</text>')
    for position, label in y.tick_labels():
        parts.append(f'<line x1="{left - 4}" y1="{position:.1f}" x2="{right}" y2="{position:.1f}" stroke="#eee"/>')
        parts.append(f'<text x="{left - 6}" y="{position + 4:.1f}" text-anchor="end">{_text(label)}</text>')
    parts.append(
        f'<text x="{(left + right) / 2}" y="{bottom + 34}" text-anchor="middle">{_text(x.channel.title)}</text>'
    )
    middle = (top + bottom) / 2
    rotate = f'transform="rotate(-90 14 {middle})"'
    parts.append(f'<text x="14" y="{middle}" text-anchor="middle" {rotate}>{_text(y.channel.title)}</text>')
    return parts


def _channel(encoding: dict[str, Any], name: str) -> _Channel:
    channel = encoding.get(name)
    if not isinstance(channel, dict) or "field" not in channel:
        raise UnsupportedSpec(f"encoding.{name} needs a field")
    if "aggregate" in channel:
        raise UnsupportedSpec(f"encoding.{name}.aggregate is not supported; aggregate the data before charting it")
    kind = channel.get("type", "quantitative")
    if kind not in ("quantitative", "nominal", "ordinal", "temporal"):
        raise UnsupportedSpec(f"encoding.{name}.type {kind!r} is not supported")
    title = channel.get("title", channel["field"])
    return _Channel(field=channel["field"], kind=kind, title=str(title))


def _number(value: Any, channel: _Channel) -> float:
    if channel.kind == "temporal" and isinstance(value, str):
        return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
    return float(value)


def _nice_ticks(low: float, high: float, count: int = 5) -> list[float]:
    """Round tick values (steps of 1, 2 or 5 times a power of ten) covering [low, high]."""
    if high == low:
        low, high = low - 1, high + 1
    raw_step = (high - low) / count
    magnitude = 10 ** math.floor(math.log10(raw_step))
    step = next(m * magnitude for m in (1, 2, 5, 10) if m * magnitude >= raw_step)
    first, last = math.floor(low / step) * step, math.ceil(high / step) * step
    return [first + i * step for i in range(round((last - first) / step) + 1)]


def _format_tick(value: float, channel: _Channel) -> str:
    if channel.kind == "temporal":
        return datetime.fromtimestamp(value).strftime("%Y-%m-%d")
    return f"{value:g}"


def _text(value: Any) -> str:
    return html.escape(str(value))
