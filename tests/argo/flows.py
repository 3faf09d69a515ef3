"""One flow per graph shape the compiler must handle, small enough to emulate end to end.

Every flow sets a class-level image (and the GPU/PVC ones a GPU and a claim), so the tests can check that each
container template, start and end included, carries the class-level pod spec.
"""

from __future__ import annotations

from flowkit import Flow, Parameter, argo, current, kubernetes, retry, schedule, step, timeout

IMAGE = "registry.example.com/ml/base:1.0"


@kubernetes(image=IMAGE, gpu=1, pvc={"shared-data": "/data"})
class LinearFlow(Flow):
    """start -> middle -> end, with every parameter type that must survive the trip to a pod."""

    text = Parameter("text", default="plain")
    number = Parameter("number", default=3)
    config = Parameter("config", default={"nested": [1, 2, {"k": "v"}]})
    nothing = Parameter("nothing", default=None, type=str)

    @step
    def start(self):
        self.received = {"text": self.text, "number": self.number, "config": self.config, "nothing": self.nothing}
        self.next(self.middle)

    @step
    def middle(self):
        self.doubled = self.number * 2
        self.next(self.end)

    @step
    def end(self):
        self.summary = f"{self.received['text']}:{self.doubled}"


@kubernetes(image=IMAGE, gpu=1, pvc={"shared-data": "/data"})
class BranchFlow(Flow):
    """A static split into two branches and their join."""

    @step
    def start(self):
        self.base = 5
        self.next(self.left, self.right)

    @step
    def left(self):
        self.value = self.base + 1
        self.next(self.join)

    @step
    def right(self):
        self.value = self.base * 10
        self.next(self.join)

    @step
    def join(self, inputs):
        self.values = sorted(branch.value for branch in inputs)
        self.next(self.end)

    @step
    def end(self):
        self.total = sum(self.values)


@kubernetes(image=IMAGE, gpu=1, pvc={"shared-data": "/data"})
class ForeachFlow(Flow):
    """A foreach whose width is a parameter, a two-step body, and the join over it."""

    width = Parameter("width", default=4)

    @step
    def start(self):
        self.items = list(range(self.width))
        self.next(self.square, foreach="items")

    @step
    def square(self):
        self.squared = self.input * self.input
        self.next(self.shift)

    @step
    def shift(self):
        self.result = self.squared + 1
        self.next(self.join)

    @step
    def join(self, inputs):
        self.results = [task.result for task in inputs]
        self.next(self.end)

    @step
    def end(self):
        self.total = sum(self.results)


@kubernetes(image=IMAGE, gpu=1, pvc={"shared-data": "/data"})
class NestedForeachFlow(Flow):
    """A foreach inside a foreach; the inner join runs once per outer split."""

    @step
    def start(self):
        self.rows = ["a", "b"]
        self.next(self.row, foreach="rows")

    @step
    def row(self):
        self.row_name = self.input
        self.columns = [1, 2, 3]
        self.next(self.cell, foreach="columns")

    @step
    def cell(self):
        self.cell_value = f"{self.row_name}{self.input}:{current.index_path}"
        self.next(self.join_columns)

    @step
    def join_columns(self, inputs):
        self.row_cells = [task.cell_value for task in inputs]
        self.next(self.join_rows)

    @step
    def join_rows(self, inputs):
        self.table = [task.row_cells for task in inputs]
        self.next(self.end)

    @step
    def end(self):
        self.cells = sum(len(row) for row in self.table)


@kubernetes(image=IMAGE, gpu=1, pvc={"shared-data": "/data"})
class BranchInForeachFlow(Flow):
    """A static split and its join inside a foreach body, then a foreach right after the foreach's join."""

    @step
    def start(self):
        self.letters = ["x", "y"]
        self.next(self.split, foreach="letters")

    @step
    def split(self):
        self.letter = self.input
        self.next(self.upper, self.double)

    @step
    def upper(self):
        self.value = self.letter.upper()
        self.next(self.join_branches)

    @step
    def double(self):
        self.value = self.letter * 2
        self.next(self.join_branches)

    @step
    def join_branches(self, inputs):
        self.pair = sorted(branch.value for branch in inputs)
        self.next(self.join_letters)

    @step
    def join_letters(self, inputs):
        self.pairs = [task.pair for task in inputs]
        self.numbers = [1, 2]
        self.next(self.again, foreach="numbers")

    @step
    def again(self):
        self.number = self.input * 10
        self.next(self.join_numbers)

    @step
    def join_numbers(self, inputs):
        self.numbers_out = [task.number for task in inputs]
        self.pairs = inputs[0].pairs
        self.next(self.end)

    @step
    def end(self):
        pass


@kubernetes(image=IMAGE, pvc={"shared-data": "/data"})
class BranchInNestedForeachFlow(Flow):
    """A static split inside a foreach inside a foreach; the inner body also writes where a pod's user may write
    (its home's cache, a relative path, the temporary directory), as libraries that cache downloads do."""

    @step
    def start(self):
        import os
        import sys

        print(f"python {sys.version_info[0]}.{sys.version_info[1]} uid {os.getuid()}")
        self.rows = ["a", "b"]
        self.next(self.row, foreach="rows")

    @step
    def row(self):
        self.row_name = self.input
        self.columns = [1, 2]
        self.next(self.cell, foreach="columns")

    @step
    def cell(self):
        import os
        import pathlib
        import tempfile

        self.cell_name = f"{self.row_name}{self.input}"
        cache = pathlib.Path("~/.cache/flowkit-test").expanduser()
        cache.mkdir(parents=True, exist_ok=True)
        (cache / self.cell_name).write_text(self.cell_name)
        pathlib.Path(f"relative-{self.cell_name}.txt").write_text(self.cell_name)
        with tempfile.NamedTemporaryFile(dir=os.environ.get("TMPDIR")) as scratch:
            scratch.write(b"x")
        self.next(self.upper, self.twice)

    @step
    def upper(self):
        self.value = self.cell_name.upper()
        self.next(self.join_branches)

    @step
    def twice(self):
        self.value = self.cell_name * 2
        self.next(self.join_branches)

    @step
    def join_branches(self, inputs):
        self.pair = sorted(branch.value for branch in inputs)
        self.next(self.join_columns)

    @step
    def join_columns(self, inputs):
        self.row_pairs = [task.pair for task in inputs]
        self.next(self.join_rows)

    @step
    def join_rows(self, inputs):
        self.table = [task.row_pairs for task in inputs]
        self.next(self.end)

    @step
    def end(self):
        self.cells = sum(len(row) for row in self.table)


@schedule(cron="15 3 * * 1-5", timezone="Europe/Paris")
@argo(
    on_exit="report",
    ttl_seconds_after_completion=600,
    ttl_seconds_after_failure=3600,
    pod_gc="OnWorkflowSuccess",
    archive_logs=True,
    parallelism=3,
    service_account="flowkit-runner",
)
@kubernetes(image=IMAGE, gpu=1, pvc={"shared-data": "/data"}, cpu="1500m", memory="3Gi", shared_memory="1Gi")
class OperatedFlow(Flow):
    """Flow-level Argo options, a schedule, retries, a deadline, a branch, a foreach and an exit handler."""

    @step
    def start(self):
        self.shards = [0, 1]
        self.next(self.fetch, self.configure)

    @retry(times=2, minutes_between_retries=1.5, backoff_factor=3)
    @step
    def fetch(self):
        self.rows = 10
        self.next(self.merge)

    @step
    def configure(self):
        self.factor = 2
        self.next(self.merge)

    @step
    def merge(self, inputs):
        self.merge_artifacts(inputs)
        self.next(self.work, foreach="shards")

    @timeout(minutes=5)
    @kubernetes(cpu="4", memory="8Gi", node_selector={"pool": "big"})
    @step
    def work(self):
        self.output = self.rows * self.factor + self.input
        self.next(self.collect)

    @step
    def collect(self, inputs):
        self.outputs = sorted(task.output for task in inputs)
        self.next(self.end)

    @step
    def end(self):
        pass

    @step
    def report(self):
        self.status = current.workflow_status


@kubernetes(image=IMAGE, gpu=1, pvc={"shared-data": "/data"})
class CustomEndsFlow(Flow):
    """First and last steps with other names (@step(start=True) / @step(end=True)); the first gets the parameters."""

    greeting = Parameter("greeting", default="hello")

    @step(start=True)
    def begin(self):
        self.words = [self.greeting, "world"]
        self.next(self.shout, foreach="words")

    @step
    def shout(self):
        self.loud = self.input.upper()
        self.next(self.gather)

    @step
    def gather(self, inputs):
        self.sentence = " ".join(task.loud for task in inputs)
        self.next(self.finish)

    @step(end=True)
    def finish(self):
        self.final = f"{self.sentence}!"


@kubernetes(image=IMAGE, gpu=1, pvc={"shared-data": "/data"})
class SwitchFlow(Flow):
    """A switch picked by a parameter, one branch two steps long, both meeting in a plain step; then a switch in
    each task of a foreach, picked per item."""

    mode = Parameter("mode", default="fast")

    @step
    def start(self):
        self.next({"fast": self.fast, "slow": self.slow}, condition="mode")

    @step
    def fast(self):
        self.path = ["fast"]
        self.next(self.merged)

    @step
    def slow(self):
        self.path = ["slow"]
        self.next(self.slower)

    @step
    def slower(self):
        self.path = [*self.path, "slower"]
        self.next(self.merged)

    @step
    def merged(self):
        self.numbers = [1, 2, 3]
        self.next(self.classify, foreach="numbers")

    @step
    def classify(self):
        self.parity = "even" if self.input % 2 == 0 else "odd"
        self.next({"even": self.halve, "odd": self.triple}, condition="parity")

    @step
    def halve(self):
        self.value = self.input // 2
        self.next(self.gather)

    @step
    def triple(self):
        self.value = self.input * 3
        self.next(self.gather)

    @step
    def gather(self, inputs):
        self.values = [task.value for task in inputs]
        self.merge_artifacts(inputs, include=["path"])
        self.next(self.end)

    @step
    def end(self):
        self.summary = (self.path, self.values)


SHAPES: list[type] = [
    LinearFlow,
    BranchFlow,
    ForeachFlow,
    NestedForeachFlow,
    BranchInForeachFlow,
    OperatedFlow,
    CustomEndsFlow,
    SwitchFlow,
]


@kubernetes(image=IMAGE, env={"HOME": "/data/home"})
class OwnHomeFlow(Flow):
    """A step that puts HOME on its own volume: the pod's default must not override it."""

    @step
    def start(self):
        self.next(self.end)

    @step
    def end(self):
        pass


@retry(times=2, minutes_between_retries=0)
@kubernetes(image=IMAGE)
class RetriedFlow(Flow):
    """Every step may be retried twice: only failures a retry can fix should use that."""

    @step
    def start(self):
        self.next(self.end)

    @step
    def end(self):
        pass
