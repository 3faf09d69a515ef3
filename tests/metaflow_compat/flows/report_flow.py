"""A flow that reports through a card, imported the way a Metaflow flow imports its card names."""

from flowkit import FlowSpec, card, current, step
from flowkit.cards import Markdown, Table


class ReportFlow(FlowSpec):
    @card(type="blank")
    @step
    def start(self):
        self.scores = {"alice": 3, "bob": 5}
        current.card.append(Markdown("# Scores"))
        current.card.append(Table([[name, score] for name, score in self.scores.items()], headers=["name", "score"]))
        self.next(self.end)

    @step
    def end(self):
        self.best = max(self.scores, key=self.scores.get)


if __name__ == "__main__":
    ReportFlow()
