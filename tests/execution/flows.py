"""Flows exercising every graph shape the executor must handle (module-level: the graph is read from source)."""

from __future__ import annotations

import sys
import threading

from flowkit import Flow, FlowSpec, Parameter, argo, catch, current, kubernetes, retry, step


class LinearFlow(Flow):
    greeting = Parameter("greeting", default="hello")
    count = Parameter("count", default=2)

    @step
    def start(self):
        self.big = list(range(1000))
        self.seen_task = current.task_id
        self.next(self.middle)

    @step
    def middle(self):
        self.message = f"{self.greeting} x{self.count}"
        print("middle says", self.message)
        self.next(self.end)

    @step
    def end(self):
        self.total = len(self.big) + self.count


class BranchFlow(Flow):
    @step
    def start(self):
        self.shared = "same"
        self.next(self.a, self.b)

    @step
    def a(self):
        self.x = 1
        self.common = "agreed"
        self.only_a = "from a"
        self.next(self.join)

    @step
    def b(self):
        self.x = 2
        self.common = "agreed"
        self.next(self.join)

    @step
    def join(self, inputs):
        self.xs = sorted(inp.x for inp in inputs)
        self.from_a = inputs.a.x
        self.seen_before_merging = [name for name in ("common", "shared") if hasattr(self, name)]
        self.merge_artifacts(inputs, exclude=["x"])
        self.next(self.end)

    @step
    def end(self):
        pass


class ConflictFlow(Flow):
    @step
    def start(self):
        self.next(self.a, self.b)

    @step
    def a(self):
        self.x = 1
        self.next(self.join)

    @step
    def b(self):
        self.x = 2
        self.next(self.join)

    @step
    def join(self, inputs):
        self.merge_artifacts(inputs)
        self.next(self.end)

    @step
    def end(self):
        pass


class ForeachFlow(FlowSpec):
    width = Parameter("width", default=10)

    @step
    def start(self):
        self.items = [f"item{i}" for i in range(self.width)]
        self.next(self.work, foreach="items")

    @step
    def work(self):
        self.result = (self.index, self.input.upper(), current.index_path)
        self.next(self.join)

    @step
    def join(self, inputs):
        self.results = [inp.result for inp in inputs]
        self.next(self.end)

    @step
    def end(self):
        self.final = len(self.results) + self.width  # a parameter passes through the join; `items` does not


class NestedForeachFlow(Flow):
    @step
    def start(self):
        self.outer = ["a", "b"]
        self.next(self.fan, foreach="outer")

    @step
    def fan(self):
        self.letter = self.input
        self.inner = [1, 2, 3]
        self.next(self.leaf, foreach="inner")

    @step
    def leaf(self):
        self.pair = (self.letter, self.input, self.index)
        self.next(self.after_leaf)

    @step
    def after_leaf(self):
        self.pair_again = (self.pair, self.input)
        self.next(self.inner_join)

    @step
    def inner_join(self, inputs):
        self.pairs = [inp.pair_again for inp in inputs]
        self.outer_input = self.input
        self.next(self.outer_join)

    @step
    def outer_join(self, inputs):
        self.all_pairs = [pair for inp in inputs for pair in inp.pairs]
        self.next(self.end)

    @step
    def end(self):
        pass


class UnpicklableFlow(Flow):
    @step
    def start(self):
        self.fine = 1
        self.lock = threading.Lock()
        self.next(self.end)

    @step
    def end(self):
        pass


class ReadOnlyParameterFlow(Flow):
    lr = Parameter("lr", default=0.1)

    @step
    def start(self):
        self.lr = 0.5
        self.next(self.end)

    @step
    def end(self):
        pass


class JsonParameterFlow(Flow):
    text = Parameter("text", default=None, type=str)
    config = Parameter("config", default={"a": 1}, help="JSON")
    flag = Parameter("flag", default=False)
    ratio = Parameter("ratio", default=0.5)
    needed = Parameter("needed", required=True, type=int)

    @step
    def start(self):
        self.echo = (self.text, self.config, self.flag, self.ratio, self.needed)
        self.next(self.end)

    @step
    def end(self):
        pass


@kubernetes(image="python:3.11-slim", gpu=1)
class CatchFlow(Flow):
    @retry(times=1, minutes_between_retries=0)
    @catch(var="problem", print_exception=False)
    @step
    def start(self):
        self.before = "set"
        self.partial = "lost"
        if current.retry_count is not None:
            raise ValueError(f"boom on attempt {current.retry_count}")
        self.next(self.end)

    @step
    def end(self):
        pass


class RuntimeTransitionFlow(Flow):
    """Passes the static checks but misuses self.next at runtime (the parameter picks how)."""

    mode = Parameter("mode", default="twice")

    @step
    def start(self):
        for _ in range(2 if self.mode == "twice" else 0):
            self.next(self.end)

    @step
    def end(self):
        pass


@argo(on_exit="notify")
class ExitHandlerFlow(Flow):
    who = Parameter("who", default="ops")

    @step
    def start(self):
        self.secret = "not for the exit handler"
        self.next(self.end)

    @step
    def end(self):
        pass

    @step
    def notify(self):
        self.report = (self.who, current.workflow_status, hasattr(self, "secret"))


class DedupeFlow(Flow):
    @step
    def start(self):
        self.weights = list(range(10_000))
        self.next(self.a)

    @step
    def a(self):
        self.weights = list(range(10_000))  # same value again: must not be stored twice
        self.step_a = 1
        self.next(self.end)

    @step
    def end(self):
        pass


class OneArtifactFlow(Flow):
    @step
    def start(self):
        self.next(self.work)

    @step
    def work(self):
        print("out")
        print("err", file=sys.stderr)
        self.value = 42
        self.next(self.end)

    @step
    def end(self):
        pass


class ArtifactRulesFlow(Flow):
    """Exercises artifact assignment rules; the parameter picks what the start step tries."""

    mode = Parameter("mode", default="delete")
    constant = "class attribute"

    @step
    def start(self):
        self.temporary = "dropped"
        self.constant = "artifact wins"
        self.run = "an artifact named like Flow.run"
        self.main = {"named": "like Flow.main"}
        if self.mode == "delete":
            del self.temporary
        elif self.mode == "reserved":
            self.next = "not allowed"
        elif self.mode == "step-name":
            self.end = "not allowed"
        elif self.mode == "not-a-step":
            type(self).next(self, print)  # spelled so the static graph check cannot see it
        self.next(self.end)

    @step
    def end(self):
        self.saw_constant = self.constant
        self.saw_temporary = hasattr(self, "temporary")
        self.saw_flow_method_names = (self.run, self.main)


class ResolvedMergeFlow(Flow):
    """The join resolves one conflict itself and merges only what it includes."""

    @step
    def start(self):
        self.next(self.a, self.b)

    @step
    def a(self):
        self.x, self.y, self.z = 1, "same", "only a"
        self.next(self.join)

    @step
    def b(self):
        self.x, self.y = 2, "same"
        self.next(self.join)

    @step
    def join(self, inputs):
        self.x = max(inp.x for inp in inputs)
        self.merge_artifacts(inputs, include=["x", "z"])
        self.next(self.end)

    @step
    def end(self):
        pass


class MutatedInPlaceFlow(Flow):
    """Inherited artifacts changed without reassignment, along a chain and through a static split's join."""

    @step
    def start(self):
        self.items = [1, 2, 3]
        self.read_only = {"k": "v"}
        self.never_read = [0]
        self.log = []
        self.next(self.grow)

    @step
    def grow(self):
        self.items.append(4)
        self.seen = dict(self.read_only)
        self.next(self.a, self.b)

    @step
    def a(self):
        self.log.append("branch")
        self.next(self.join)

    @step
    def b(self):
        self.log.append("branch")
        self.next(self.join)

    @step
    def join(self, inputs):
        self.merge_artifacts(inputs)
        self.log.append("joined")
        self.next(self.end)

    @step
    def end(self):
        self.final_items = list(self.items)
        self.final_log = list(self.log)


class MutatedForeachListFlow(Flow):
    """A foreach over an inherited list the foreach step extends in place: the split count and the stored list agree."""

    @step
    def start(self):
        self.items = [10, 20]
        self.next(self.extend)

    @step
    def extend(self):
        self.items.append(30)
        self.next(self.body, foreach="items")

    @step
    def body(self):
        self.value = self.input
        self.next(self.join)

    @step
    def join(self, inputs):
        self.values = [inp.value for inp in inputs]
        self.next(self.end)

    @step
    def end(self):
        pass


def _set_of(items: list[str]) -> set[str]:
    return set(items)


class PickledInOrder:
    """Pickles as ``set(items)`` with the items in the given order: a stored set whose pickle differs from the one
    this process makes of the loaded set, as happens when the writer's string hashes were seeded differently."""

    def __init__(self, items: list[str]) -> None:
        self.items = items

    def __reduce__(self):
        return (_set_of, (self.items,))


class ReadSetFlow(Flow):
    @step
    def start(self):
        self.tags = PickledInOrder(sorted((f"tag{i}" for i in range(50)), reverse=True))
        self.next(self.read)

    @step
    def read(self):
        self.count = len(self.tags)
        self.next(self.end)

    @step
    def end(self):
        pass


class ForkingFlow(Flow):
    """Its start step forks a process that carries on with the step's code after the step itself has committed."""

    @step
    def start(self):
        import os
        import time

        self.writer = "parent"
        if os.fork() == 0:
            time.sleep(0.5)  # the parent has committed by now
            self.writer = "forked child"
        self.next(self.end)

    @step
    def end(self):
        pass
