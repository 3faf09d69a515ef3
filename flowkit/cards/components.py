"""The pieces a step appends to a card: Markdown, Table, Image, Artifact, VegaChart and ProgressBar.

The names and constructor arguments follow Metaflow's ``metaflow.cards``, so a flow's card code ports by changing
one import. Each component renders itself to an HTML fragment with the standard library only: cards are rendered
inside the task, and a pod's image holds nothing but CPython and the shipped code. Every text a user supplies is
escaped, so an artifact's repr or a table cell can never inject markup into the page.
"""

from __future__ import annotations

import abc
import base64
import functools
import html
import io
import json
import pprint
import reprlib
from collections.abc import Iterable, Sequence
from typing import Any

from flowkit.cards.markdown import markdown_to_html
from flowkit.cards.vega import render_vega_lite

_REPR_LIMIT = 3000
"""Characters of an artifact's repr a card shows; a huge array would otherwise make the card unreadable."""


class CardComponent(abc.ABC):
    """Something a card can show: ``render()`` returns a self-contained HTML fragment.

    Abstract, so a user's own component that forgets ``render`` fails where it is created, not when its card is
    written at the end of the task."""

    @abc.abstractmethod
    def render(self) -> str:
        """This component as an HTML fragment with no outside references (cards are viewed offline)."""


class Markdown(CardComponent):
    """Text written in Markdown (headings, emphasis, code, lists, links, tables of pipes are not supported)."""

    def __init__(self, text: str) -> None:
        self.text = text

    def update(self, text: str) -> None:
        """Replace the text (seen at the next ``current.card.refresh()``)."""
        self.text = text

    def render(self) -> str:
        return f'<div class="fk-markdown">{markdown_to_html(self.text)}</div>'


class Table(CardComponent):
    """Rows of cells; a cell is plain text or another component (an Image in a table, say)."""

    def __init__(
        self,
        data: Sequence[Sequence[Any]] | None = None,
        headers: Sequence[str] | None = None,
        disable_updates: bool = False,
    ) -> None:
        """``disable_updates`` is Metaflow's keyword, accepted so its code runs; a flowkit card renders every
        component as it stands each time the card is written, so there is nothing to switch off."""
        self.data = [list(row) for row in data or []]
        self.headers = list(headers or [])

    def update(self, data: Sequence[Sequence[Any]]) -> None:
        """Replace the rows (seen at the next ``current.card.refresh()``)."""
        self.data = [list(row) for row in data]

    @classmethod
    def from_dataframe(cls, dataframe: Any, truncate: bool = True, max_rows: int = 100) -> Table:
        """A pandas DataFrame's rows (the first ``max_rows`` when ``truncate``), its columns as headers."""
        frame = dataframe.head(max_rows) if truncate else dataframe
        rows = [list(row) for row in frame.itertuples(index=False, name=None)]
        return cls(rows, [str(column) for column in frame.columns])

    def render(self) -> str:
        head = "".join(f"<th>{html.escape(str(header))}</th>" for header in self.headers)
        body = "".join("<tr>" + "".join(f"<td>{_cell(cell)}</td>" for cell in row) + "</tr>" for row in self.data)
        thead = f"<thead><tr>{head}</tr></thead>" if head else ""
        return f'<table class="fk-table">{thead}<tbody>{body}</tbody></table>'


class Image(CardComponent):
    """A PNG or JPEG image embedded in the page as a data URI (no file beside the card, no network)."""

    def __init__(self, src: bytes, label: str | None = None, disable_updates: bool = True) -> None:
        """``disable_updates`` is Metaflow's keyword, accepted and without effect (see `Table`)."""
        self.src, self.label = _checked_image(src), label
        self.mime = _image_type(self.src)

    def update(self, image: bytes, label: str | None = None) -> None:
        """Show other image bytes (and label) from the next ``current.card.refresh()`` on."""
        self.src = _checked_image(image)
        self.mime = _image_type(self.src)
        self.label = label if label is not None else self.label

    @classmethod
    def from_matplotlib(cls, plot: Any, label: str | None = None, disable_updates: bool = False) -> Image:
        """A matplotlib Figure, or a plot on one (an Axes, such as seaborn returns), saved as PNG."""
        figure = plot if hasattr(plot, "savefig") else getattr(plot, "get_figure", lambda: None)()
        if figure is None or not hasattr(figure, "savefig"):
            raise TypeError(f"Image.from_matplotlib takes a matplotlib Figure or Axes, got {type(plot).__name__}")
        buffer = io.BytesIO()
        figure.savefig(buffer, format="png", bbox_inches="tight")
        return cls(buffer.getvalue(), label)

    @classmethod
    def from_pil_image(cls, image: Any, label: str | None = None, disable_updates: bool = False) -> Image:
        buffer = io.BytesIO()
        image.save(buffer, format="PNG")
        return cls(buffer.getvalue(), label)

    def render(self) -> str:
        data = base64.b64encode(self.src).decode("ascii")
        alt = html.escape(self.label or "image")
        caption = f"<figcaption>{html.escape(self.label)}</figcaption>" if self.label else ""
        return f'<figure class="fk-image"><img alt="{alt}" src="data:{self.mime};base64,{data}">{caption}</figure>'


class Artifact(CardComponent):
    """Any Python value, shown as its (pretty-printed, shortened) repr, optionally with a name."""

    def __init__(self, artifact: Any, name: str | None = None, compressed: bool = True) -> None:
        self.artifact = artifact
        self.name = name
        self.compressed = compressed

    def render(self) -> str:
        text = short_repr(self.artifact, limit=_REPR_LIMIT if self.compressed else None)
        title = f'<div class="fk-artifact-name">{html.escape(self.name)}</div>' if self.name else ""
        return f'<div class="fk-artifact">{title}<pre>{html.escape(text)}</pre></div>'


class VegaChart(CardComponent):
    """A chart from a Vega-Lite spec (a dict), drawn as inline SVG; see `flowkit.cards.vega` for what is drawn."""

    def __init__(self, spec: dict[str, Any], show_controls: bool = False) -> None:
        self.spec = spec
        self.show_controls = show_controls  # accepted for Metaflow compatibility; the SVG has no controls

    @classmethod
    def from_altair_chart(cls, chart: Any) -> VegaChart:
        return cls(chart.to_dict())

    def update(self, spec: dict[str, Any]) -> None:
        self.spec = spec

    def render(self) -> str:
        return f'<div class="fk-vega">{render_vega_lite(self.spec)}</div>'


class ProgressBar(CardComponent):
    """A bar filled to ``value / max``; call ``update(value)`` then ``current.card.refresh()`` while a task runs."""

    def __init__(
        self, max: int | float = 100, label: str | None = None, value: int | float = 0, unit: str | None = None
    ) -> None:
        if max <= 0:
            raise ValueError(f"ProgressBar max must be > 0, got {max}")
        self.max = max
        self.label = label
        self.value = value
        self.unit = unit

    def update(self, new_value: int | float) -> None:
        self.value = new_value

    def render(self) -> str:
        fraction = min(max(self.value / self.max, 0.0), 1.0)
        unit = f" {html.escape(self.unit)}" if self.unit else ""
        label = f'<div class="fk-progress-label">{html.escape(self.label)}</div>' if self.label else ""
        return (
            f'<div class="fk-progress">{label}<progress max="{self.max}" value="{self.value}"></progress>'
            f'<span class="fk-progress-value">{self.value:g} / {self.max:g}{unit} ({fraction:.0%})</span></div>'
        )


def short_repr(value: Any, *, limit: int | None = 200) -> str:
    """A readable repr of at most ``limit`` characters; a repr that raises is reported, not raised.

    With a limit, containers are abbreviated while the repr is built (`reprlib`), so a million-element list costs
    what its first elements do; without one, the value is pretty-printed whole.
    """
    try:
        if limit is None:
            text = pprint.pformat(value, width=100, compact=True, sort_dicts=False)
        else:
            text = _abbreviating_repr(limit).repr(value)
    except Exception as error:
        text = f"<{type(value).__name__}: repr failed: {type(error).__name__}: {error}>"
    if limit is not None and len(text) > limit:
        text = text[: limit - 1] + "…"
    return text


@functools.cache
def _abbreviating_repr(limit: int) -> reprlib.Repr:
    """One configured `reprlib.Repr` per limit, shared: it keeps no state between calls."""
    abbreviate = reprlib.Repr()
    abbreviate.maxlevel = 4
    abbreviate.maxlist = abbreviate.maxtuple = abbreviate.maxset = abbreviate.maxfrozenset = abbreviate.maxdeque = 30
    abbreviate.maxdict = 20
    abbreviate.maxstring = abbreviate.maxother = abbreviate.maxlong = limit
    return abbreviate


def render_components(components: Iterable[CardComponent]) -> str:
    """The fragments of several components, each in its own block; a component that fails to render says why."""
    parts = []
    for component in components:
        try:
            fragment = component.render()
        except Exception as error:
            kind = type(component).__name__
            fragment = f'<div class="fk-error">{html.escape(f"{kind} failed to render: {error!r}")}</div>'
        parts.append(f'<section class="fk-component">{fragment}</section>')
    return "\n".join(parts)


def _cell(value: Any) -> str:
    if isinstance(value, CardComponent):
        return value.render()
    if hasattr(value, "__html__"):  # markup a caller built and escaped itself (the markupsafe convention)
        return str(value.__html__())
    if isinstance(value, (dict, list)):
        return f"<code>{html.escape(json.dumps(value, default=str)[:_REPR_LIMIT])}</code>"
    return html.escape(str(value))


def _checked_image(src: object) -> bytes:
    if not isinstance(src, (bytes, bytearray)):
        raise TypeError(f"Image takes the PNG or JPEG file's bytes, got {type(src).__name__}")
    return bytes(src)


def _image_type(data: bytes) -> str:
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if data.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    raise ValueError("Image takes PNG or JPEG bytes; these start with neither signature")
