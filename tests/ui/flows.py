"""Flows the UI is shown: a branch and a foreach (with cards), one whose foreach task fails after printing, and one
whose first attempt fails and is retried."""

from __future__ import annotations

from flowkit import Flow, Parameter, card, current, kubernetes, retry, step
from flowkit.cards import Artifact, Image, Markdown, ProgressBar, Table, VegaChart
from tests.cards.flows import BAR_SPEC, ONE_PIXEL_PNG


class BranchForeachFlow(Flow):
    """start splits into a foreach branch (three tasks with cards) and a plain branch; join merges them."""

    size = Parameter("size", default=3)

    @step
    def start(self):
        self.next(self.fan, self.side)

    @step
    def fan(self):
        self.items = list(range(self.size))
        self.next(self.work, foreach="items")

    @card(type="blank", id="everything")
    @card
    @step
    def work(self):
        print(f"working on item {self.input}")
        self.square = self.input**2
        progress = ProgressBar(max=10, label="epochs")
        progress.update(10)
        current.card["everything"].extend(
            [
                Markdown("## Every component\nwith *emphasis*"),
                Table([["item", self.input], ["square", self.square]], headers=["what", "value"]),
                Image(ONE_PIXEL_PNG, label="a pixel"),
                Artifact(self.items, name="items"),
                VegaChart(BAR_SPEC),
                progress,
            ]
        )
        self.next(self.gather)

    @step
    def gather(self, inputs):
        self.squares = [task.square for task in inputs]
        self.next(self.join)

    @kubernetes(cpu=2, memory="1Gi")
    @step
    def side(self):
        self.note = "the other branch"
        self.next(self.join)

    @step
    def join(self, inputs):
        self.merge_artifacts(inputs)
        self.next(self.end)

    @step
    def end(self):
        pass


class FailingForeachFlow(Flow):
    @step
    def start(self):
        self.items = [0, 1, 2]
        self.next(self.work, foreach="items")

    @step
    def work(self):
        print(f"about to process item {self.input}")
        if self.input == 1:
            raise RuntimeError("item 1 is broken")
        self.next(self.join)

    @step
    def join(self, inputs):
        self.next(self.end)

    @step
    def end(self):
        pass


class RetriedFlow(Flow):
    @retry(times=1)
    @step
    def start(self):
        if current.retry_count == 0:
            raise RuntimeError("the first attempt fails")
        self.next(self.end)

    @step
    def end(self):
        pass
