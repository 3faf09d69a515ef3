"""A flow split across several files: the steps import the project's own package `mylib`.

Pods run it from its code package, with no image rebuild when `mylib` changes:

    python examples/multifile/trainflow.py package            # what would be shipped
    python examples/multifile/trainflow.py run --degree 3     # locally
    python examples/multifile/trainflow.py argo-create        # the same code on Argo
"""

from mylib.features import build

from flowkit import Flow, Parameter, kubernetes, step


@kubernetes(image="registry.local/miniconda-py310:1.4")
class MultiFileFlow(Flow):
    """Builds features with the project's library, then fits a one-variable least-squares line per feature."""

    degree = Parameter("degree", default=2, help="Highest power of each feature.")

    @step
    def start(self):
        """Compute features with code from a sibling module."""
        self.values = [0.5, 1.0, 1.5, 2.0]
        self.features = build(self.values, degree=self.degree)
        self.next(self.end)

    @step
    def end(self):
        """Summarize: one column sum per power."""
        self.column_sums = [sum(row[power] for row in self.features) for power in range(self.degree)]
        print("column sums:", self.column_sums)


if __name__ == "__main__":
    MultiFileFlow()
