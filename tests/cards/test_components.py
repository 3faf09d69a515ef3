"""Card components render safe, self-contained HTML: Markdown and Vega-Lite without any library or network."""

from __future__ import annotations

import html

import pytest

from flowkit.cards import Artifact, Image, Table, VegaChart
from flowkit.cards.components import render_components, short_repr
from flowkit.cards.markdown import markdown_to_html
from tests.cards.flows import ONE_PIXEL_PNG


def test_markdown_blocks_and_inline_markup() -> None:
    text = (
        "# Title\n\nA *b* **c** `d<e>`\nsame paragraph\n\n- one\n- two\n\n1. first\n\n> quoted\n\n```\nx < y\n```\n---"
    )
    assert markdown_to_html(text).split("\n") == [
        "<h1>Title</h1>",
        "<p>A <em>b</em> <strong>c</strong> <code>d&lt;e&gt;</code> same paragraph</p>",
        "<ul><li>one</li><li>two</li></ul>",
        "<ol><li>first</li></ol>",
        "<blockquote><p>quoted</p></blockquote>",
        "<pre><code>x &lt; y</code></pre>",
        "<hr>",
    ]


def test_markdown_never_passes_markup_or_script_links_through() -> None:
    rendered = markdown_to_html("<script>alert(1)</script> [ok](https://x.org/a) [bad](javascript:alert(1))")
    assert "<script>" not in rendered and "&lt;script&gt;" in rendered
    assert '<a href="https://x.org/a">ok</a>' in rendered
    assert "javascript" in rendered and 'href="javascript' not in rendered


def test_line_chart_with_series_draws_a_path_per_series_and_a_legend() -> None:
    spec = {
        "data": {"values": [{"t": i, "loss": 1 / (i + 1), "run": run} for run in ("a", "b") for i in range(5)]},
        "mark": {"type": "line"},
        "encoding": {
            "x": {"field": "t", "type": "quantitative"},
            "y": {"field": "loss", "type": "quantitative", "title": "training loss"},
            "color": {"field": "run", "type": "nominal"},
        },
    }
    svg = VegaChart(spec).render()
    assert svg.count("<path d=") == 2 and ">training loss</text>" in svg
    assert ">a</text>" in svg and ">b</text>" in svg  # the legend


def test_temporal_points_and_horizontal_bars() -> None:
    points = {
        "data": {"values": [{"day": "2024-01-01", "n": 3}, {"day": "2024-01-05", "n": 5}]},
        "mark": "point",
        "encoding": {"x": {"field": "day", "type": "temporal"}, "y": {"field": "n", "type": "quantitative"}},
    }
    assert VegaChart(points).render().count("<circle") == 2
    bars = {
        "data": {"values": [{"k": "x", "v": 2}, {"k": "y", "v": 5}]},
        "mark": "bar",
        "encoding": {"y": {"field": "k", "type": "nominal"}, "x": {"field": "v", "type": "quantitative"}},
    }
    assert VegaChart(bars).render().count("<rect x=") == 2


@pytest.mark.parametrize(
    ("spec", "reason"),
    [
        ({"layer": [], "data": {"values": []}}, "layer is not supported"),
        ({"data": {"url": "https://x/data.csv"}, "mark": "bar"}, "only inline data"),
        ({"data": {"values": []}, "mark": "arc"}, "mark 'arc' is not one of"),
        (
            {
                "data": {"values": [{"a": 1}]},
                "mark": "bar",
                "encoding": {"x": {"field": "a", "aggregate": "sum"}, "y": {"field": "a"}},
            },
            "aggregate is not supported",
        ),
    ],
)
def test_unsupported_specs_say_why_and_show_the_spec(spec: dict[str, object], reason: str) -> None:
    rendered = html.unescape(VegaChart(spec).render())
    assert "cannot be drawn offline" in rendered and reason in rendered and "<pre>" in rendered


def test_images_are_checked_and_components_that_fail_say_so() -> None:
    with pytest.raises(ValueError, match="PNG or JPEG"):
        Image(b"GIF89a")
    jpeg = Image(b"\xff\xd8\xff\xe0rest")
    assert 'src="data:image/jpeg;base64,' in jpeg.render()

    class Exploding:
        def __repr__(self) -> str:
            raise RuntimeError("no repr")

    assert "&lt;Exploding instance at" in Artifact(Exploding()).render()  # abbreviated repr: names the type
    assert "repr failed: RuntimeError: no repr" in Artifact(Exploding(), compressed=False).render()
    broken = Table([[1]])
    broken.data = None  # type: ignore[assignment]
    assert "Table failed to render" in render_components([broken])


def test_matplotlib_figures_and_axes_are_saved_as_png() -> None:
    """A real matplotlib figure, and an Axes as seaborn returns it, become an embedded PNG."""
    import matplotlib

    matplotlib.use("Agg")  # no display in a task
    from matplotlib.figure import Figure

    figure = Figure(figsize=(2, 2))
    axes = figure.add_subplot()
    axes.plot([1, 2, 3], [1, 4, 9])
    for plot in (figure, axes):
        image = Image.from_matplotlib(plot, label="squares")
        assert image.mime == "image/png" and image.src.startswith(b"\x89PNG")
        assert "data:image/png;base64," in image.render() and "<figcaption>squares</figcaption>" in image.render()
    with pytest.raises(TypeError, match="takes a matplotlib Figure or Axes, got list"):
        Image.from_matplotlib([1, 2])


def test_metaflow_s_update_keywords_and_methods_of_table_and_image() -> None:
    table = Table([["a", 1]], headers=["k", "v"], disable_updates=True)
    table.update([["b", 2], ["c", 3]])
    assert "<td>b</td>" in table.render() and "<td>a</td>" not in table.render()
    image = Image(ONE_PIXEL_PNG, label="first", disable_updates=False)
    jpeg = b"\xff\xd8\xff\xe0" + b"0" * 16
    image.update(jpeg)
    assert image.mime == "image/jpeg" and image.label == "first" and "data:image/jpeg;base64," in image.render()
    with pytest.raises(TypeError, match="PNG or JPEG file's bytes, got str"):
        image.update("plot.png")  # type: ignore[arg-type]


def test_short_reprs_of_large_values_are_abbreviated_while_built() -> None:
    text = short_repr(list(range(1_000_000)))
    assert text.startswith("[0, 1, 2,") and text.endswith("...]") and len(text) <= 200
    assert short_repr("x" * 1000, limit=50) == "'" + "x" * 22 + "..." + "x" * 23 + "'"


def test_pil_images_and_pandas_frames_become_an_image_and_a_table() -> None:
    import pandas
    from PIL import Image as PILImage

    picture = Image.from_pil_image(PILImage.new("RGB", (3, 2), "red"), label="red")
    assert picture.mime == "image/png" and "<figcaption>red</figcaption>" in picture.render()
    frame = pandas.DataFrame({"epoch": range(150), "loss": [1 / (n + 1) for n in range(150)]})
    table = Table.from_dataframe(frame)
    assert table.headers == ["epoch", "loss"] and len(table.data) == 100 and table.data[1] == [1, 0.5]
    assert len(Table.from_dataframe(frame, truncate=False).data) == 150


def test_a_component_without_render_fails_where_it_is_created() -> None:
    from flowkit.cards import CardComponent

    class Forgetful(CardComponent):
        pass

    with pytest.raises(TypeError, match="render"):
        Forgetful()  # type: ignore[abstract]
