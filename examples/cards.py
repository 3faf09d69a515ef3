"""Cards: every task gets a default report, and the training step adds one of its own with every component.

python examples/cards.py run
python examples/cards.py card list
flowkit ui            # then open http://127.0.0.1:8325/
"""

import math
import struct
import time
import zlib

from flowkit import Flow, Parameter, card, current, kubernetes, step
from flowkit.cards import Artifact, Image, Markdown, ProgressBar, Table, VegaChart


@kubernetes(image="python:3.12-slim")
class CardsFlow(Flow):
    """Trains a toy model at three learning rates beside a baseline, and reports on each run."""

    epochs = Parameter("epochs", default=8, type=int, help="Training epochs per learning rate.")

    @card
    @step
    def start(self):
        self.learning_rates = [0.3, 0.1, 0.03]
        self.next(self.fan, self.baseline)

    @step
    def fan(self):
        self.next(self.train, foreach="learning_rates")

    @card(type="blank", id="training", refresh_interval=2)
    @card
    @step
    def train(self):
        """Gradient descent on a parabola; the training card follows the epochs while they run."""
        self.rate = rate = self.input
        progress = ProgressBar(max=self.epochs, label=f"epochs at rate {rate}")
        current.card["training"].extend([Markdown(f"## Training at learning rate {rate}"), progress])
        position, self.losses = 4.0, []
        for epoch in range(self.epochs):
            position -= rate * 2 * position
            self.losses.append(round(position**2, 4))
            progress.update(epoch + 1)
            current.card.refresh()
            time.sleep(0.05)
        self.final_loss = self.losses[-1]
        points = [{"epoch": epoch + 1, "loss": loss} for epoch, loss in enumerate(self.losses)]
        current.card["training"].extend(
            [
                VegaChart(
                    {
                        "title": "loss by epoch",
                        "data": {"values": points},
                        "mark": "line",
                        "encoding": {
                            "x": {"field": "epoch", "type": "quantitative"},
                            "y": {"field": "loss", "type": "quantitative"},
                        },
                    }
                ),
                Table([[point["epoch"], point["loss"]] for point in points], headers=["epoch", "loss"]),
                Image(gradient_png(rate), label="a picture made with the standard library"),
                Artifact({"rate": rate, "final_loss": self.final_loss}, name="summary"),
            ]
        )
        current.card.append(Markdown(f"Final loss **{self.final_loss}** at rate `{rate}`."))
        self.next(self.gather)

    @step
    def gather(self, inputs):
        self.results = {task.rate: task.final_loss for task in inputs}
        self.next(self.join)

    @step
    def baseline(self):
        self.baseline_loss = 16.0
        self.next(self.join)

    @card
    @step
    def join(self, inputs):
        self.merge_artifacts(inputs)
        rows = [{"rate": str(rate), "loss": loss} for rate, loss in self.results.items()]
        current.card.append(Markdown(f"Baseline loss {self.baseline_loss}; the best rate wins."))
        current.card.append(
            VegaChart(
                {
                    "title": "final loss by learning rate",
                    "data": {"values": rows},
                    "mark": "bar",
                    "encoding": {
                        "x": {"field": "rate", "type": "nominal"},
                        "y": {"field": "loss", "type": "quantitative"},
                    },
                }
            )
        )
        self.best_rate = min(self.results, key=self.results.get)
        self.next(self.end)

    @step
    def end(self):
        print(f"best learning rate: {self.best_rate}")


def gradient_png(rate: float, size: int = 96) -> bytes:
    """A small PNG drawn with zlib alone (pods need no imaging library for a card's picture)."""
    rows = b"".join(
        b"\x00"
        + bytes(
            channel
            for x in range(size)
            for channel in (int(255 * x / size), int(255 * (0.5 + 0.5 * math.sin(y / 8 + rate * 10))), 180)
        )
        for y in range(size)
    )

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", size, size, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b"")


if __name__ == "__main__":
    CardsFlow()
