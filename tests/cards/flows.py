"""Flows with cards (module-level: the graph is read from source)."""

from __future__ import annotations

from flowkit import Flow, Parameter, card, current, retry, step
from flowkit.cards import Artifact, Image, Markdown, ProgressBar, Table, VegaChart

ONE_PIXEL_PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c489"
    "0000000d49444154789c6360f8cf000003010100c9fe92ef0000000049454e44ae426082"
)
BAR_SPEC = {
    "title": "squares",
    "data": {"values": [{"item": "a", "value": 1}, {"item": "b", "value": 4}, {"item": "c", "value": 9}]},
    "mark": "bar",
    "encoding": {"x": {"field": "item", "type": "nominal"}, "y": {"field": "value", "type": "quantitative"}},
}


class CardFlow(Flow):
    """start fans out over three items; each body task renders the default card and a named card of every component."""

    alpha = Parameter("alpha", default=0.5)

    @card
    @step
    def start(self):
        self.items = [1, 2, 3]
        current.card.append(Markdown("# Start\nfan out over **three** items"))
        self.next(self.work, foreach="items")

    @card(type="blank", id="everything")
    @card
    @step
    def work(self):
        self.square = self.input**2
        progress = ProgressBar(max=10, label="epochs", unit="epochs")
        progress.update(7)
        current.card["everything"].extend(
            [
                Markdown("## Report\nsome *italic* and `code`"),
                Table([["a", 1], ["b", Markdown("**bold cell**")]], headers=["name", "value"]),
                Image(ONE_PIXEL_PNG, label="one pixel"),
                Artifact({"square": self.square}, name="result"),
                VegaChart(BAR_SPEC),
                progress,
            ]
        )
        current.card.append(Markdown(f"square is {self.square}"))
        self.next(self.join)

    @step
    def join(self, inputs):
        current.card.append(Markdown("nobody sees this"))
        self.total = sum(task.square for task in inputs)
        self.next(self.end)

    @step
    def end(self):
        pass


class FailingCardFlow(Flow):
    @retry(times=1, minutes_between_retries=0)
    @card
    @step
    def start(self):
        self.before = "kept"
        raise ValueError("boom in start")
        self.next(self.end)

    @step
    def end(self):
        pass
