"""A static split into two branches and a join that merges what they agree on.

python examples/branch.py run --base 10
"""

from flowkit import Flow, Parameter, kubernetes, step


@kubernetes(image="python:3.11-slim")
class BranchFlow(Flow):
    """Doubles and squares a number on two branches, then combines the results."""

    base = Parameter("base", default=3, type=int, help="The number both branches start from.")

    @step
    def start(self):
        """Shared input of both branches."""
        self.label = f"base={self.base}"
        self.next(self.double, self.square)

    @step
    def double(self):
        self.result = self.base * 2
        self.next(self.join)

    @step
    def square(self):
        self.result = self.base**2
        self.next(self.join)

    @step
    def join(self, inputs):
        """Both branches carry `label` unchanged, so merge_artifacts keeps it; `result` differs, so we pick."""
        self.doubled = inputs.double.result
        self.squared = inputs.square.result
        self.merge_artifacts(inputs, exclude=["result"])
        self.next(self.end)

    @step
    def end(self):
        self.total = self.doubled + self.squared
        print(f"{self.label}: doubled={self.doubled} squared={self.squared} total={self.total}")


if __name__ == "__main__":
    BranchFlow()
