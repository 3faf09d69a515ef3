"""A small real ML task: tune a classifier on scikit-learn's bundled digits data with a parallel foreach.

prepare (start) -> train one model per hyper-parameter setting (foreach, in parallel) -> evaluate (join) -> end.

    python examples/digits.py run --max-workers 2
"""

from flowkit import Flow, Parameter, kubernetes, resources, step


@kubernetes(image="python:3.11-slim", cpu="1", memory="1Gi")
class DigitsFlow(Flow):
    """Grid-searches an SVM's C and gamma on the 8x8 digits images and keeps the best model."""

    test_size = Parameter("test_size", default=0.25, type=float, help="Fraction of images held out for testing.")
    grid = Parameter(
        "grid",
        default={"C": [1.0, 10.0], "gamma": [0.0005, 0.001]},
        type=dict,
        help="Hyper-parameter grid as JSON: each key maps to the values to try.",
    )

    @step
    def start(self):
        """Load and split the data once; every training task reuses the same stored arrays."""
        from sklearn.datasets import load_digits
        from sklearn.model_selection import train_test_split

        digits = load_digits()
        self.x_train, self.x_test, self.y_train, self.y_test = train_test_split(
            digits.data / 16.0, digits.target, test_size=self.test_size, random_state=0, stratify=digits.target
        )
        self.settings = [{"C": c, "gamma": gamma} for c in self.grid["C"] for gamma in self.grid["gamma"]]
        print(f"{len(self.x_train)} training images, {len(self.settings)} settings to try")
        self.next(self.train, foreach="settings")

    @resources(cpu=1, memory="512Mi")
    @step
    def train(self):
        """Fit one model on one setting of the grid (`self.input`)."""
        from sklearn.svm import SVC

        self.setting = self.input
        self.model = SVC(**self.setting).fit(self.x_train, self.y_train)
        self.next(self.evaluate)

    @step
    def evaluate(self, inputs):
        """Score every trained model on the held-out images."""
        self.scores = [(task.setting, float(task.model.score(task.x_test, task.y_test)), task.model) for task in inputs]
        self.merge_artifacts(inputs, include=["x_test", "y_test"])
        self.next(self.end)

    @step
    def end(self):
        """Keep the best model."""
        self.best_setting, self.best_accuracy, self.best_model = max(self.scores, key=lambda scored: scored[1])
        print(f"best {self.best_setting}: accuracy {self.best_accuracy:.3f}")


if __name__ == "__main__":
    DigitsFlow()
