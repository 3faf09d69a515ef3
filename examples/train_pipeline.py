"""A training pipeline as it runs on a GPU cluster: prepare data, train one model per learning rate, evaluate.

Every pod runs a Miniconda image with Python 3.10 and one GPU, mounts the shared training-data claim, retries
flaky steps with exponential backoff, gives up on a training attempt after 30 minutes, and reports the outcome
from an exit-handler step whatever happened. Finished workflows are cleaned up after a day, their logs archived.

    python examples/train_pipeline.py run                       # on this machine
    python examples/train_pipeline.py argo-create --only-yaml   # the manifests
    python examples/train_pipeline.py argo-create               # deploy
    python examples/train_pipeline.py argo-trigger --learning_rates '[0.01, 0.1]'

The model is a one-feature linear regression fitted by gradient descent in plain Python, so the example runs
anywhere; replace `fit` with your framework's training loop. Sums use `math.fsum`, which is correctly rounded: the
pods' Python 3.10 and a laptop's 3.12 (whose `sum` of floats rounds differently) compute the same weights.
"""

import math
import random

from flowkit import Flow, Parameter, argo, current, kubernetes, retry, step, timeout

MINICONDA_PYTHON_310 = "continuumio/miniconda3:23.3.1-0"  # Miniconda with Python 3.10


def fit(points, learning_rate, epochs):
    """Gradient descent on mean squared error for y = w * x + b; returns (w, b)."""
    w = b = 0.0
    n = len(points)
    for _ in range(epochs):
        grad_w = math.fsum(2 * (w * x + b - y) * x for x, y in points) / n
        grad_b = math.fsum(2 * (w * x + b - y) for x, y in points) / n
        w, b = w - learning_rate * grad_w, b - learning_rate * grad_b
    return w, b


def mean_squared_error(points, w, b):
    return math.fsum((w * x + b - y) ** 2 for x, y in points) / len(points)


@argo(
    on_exit="notify",
    ttl_seconds_after_completion=86400,
    archive_logs=True,
    pod_gc="OnPodSuccess",
    parallelism=8,
)
@kubernetes(
    image=MINICONDA_PYTHON_310,
    gpu=1,
    pvc={"training-data": "/data"},
    cpu="2",
    memory="8Gi",
    shared_memory="2Gi",
)
class TrainPipeline(Flow):
    """Prepare a dataset, train one model per learning rate on a GPU, keep the best one."""

    learning_rates = Parameter("learning_rates", default=[0.01, 0.05, 0.2], help="Learning rates to try (JSON list).")
    epochs = Parameter("epochs", default=200, help="Gradient-descent epochs per model.")
    seed = Parameter("seed", default=7, help="Seed of the synthetic dataset.")

    @step
    def start(self):
        """Two independent preparation branches."""
        self.next(self.prepare_data, self.describe_grid)

    @retry(times=3, minutes_between_retries=1, backoff_factor=2)
    @step
    def prepare_data(self):
        """Build and split the dataset (in real life: read from /data, which may be briefly unavailable)."""
        rng = random.Random(self.seed)
        points = [(x / 10, 3.0 * (x / 10) + 0.5 + rng.gauss(0, 0.1)) for x in range(40)]
        rng.shuffle(points)
        self.train_points, self.test_points = points[:30], points[30:]
        self.next(self.plan)

    @step
    def describe_grid(self):
        """Check the search space before spending GPU time on it."""
        self.grid = sorted(float(rate) for rate in self.learning_rates)
        if not self.grid:
            raise ValueError("learning_rates must not be empty")
        self.next(self.plan)

    @step
    def plan(self, inputs):
        """Join the preparation branches, then fan out one training task per learning rate."""
        self.merge_artifacts(inputs)
        self.next(self.train, foreach="grid")

    @retry(times=2, minutes_between_retries=0.5, backoff_factor=2)
    @timeout(minutes=30)
    @step
    def train(self):
        """One model per learning rate, each on its own GPU pod."""
        self.learning_rate = self.input
        self.weights = fit(self.train_points, self.learning_rate, self.epochs)
        self.next(self.evaluate)

    @step
    def evaluate(self, inputs):
        """Score every model on the held-out points and keep the best."""
        self.scores = {task.learning_rate: mean_squared_error(task.test_points, *task.weights) for task in inputs}
        best = min(inputs, key=lambda task: self.scores[task.learning_rate])
        self.best_learning_rate, self.best_weights = best.learning_rate, best.weights
        self.next(self.end)

    @step
    def end(self):
        w, b = self.best_weights
        print(f"best learning rate {self.best_learning_rate}: y = {w:.3f} x + {b:.3f}")

    @step
    def notify(self):
        """The exit handler: runs after the workflow, whether it succeeded or not."""
        self.message = f"{current.flow_name} run {current.run_id} finished: {current.workflow_status}"
        print(self.message)


if __name__ == "__main__":
    TrainPipeline()
