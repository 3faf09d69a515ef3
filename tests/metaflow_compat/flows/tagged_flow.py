"""The smallest Metaflow-style flow: what a run's tags and the client are tested with."""

from flowkit import FlowSpec, kubernetes, step


@kubernetes(image="python:3.12-slim")
class TaggedFlow(FlowSpec):
    @step
    def start(self):
        self.greeting = "hello"
        self.next(self.end)

    @step
    def end(self):
        self.greeting = self.greeting.upper()


if __name__ == "__main__":
    TaggedFlow()
