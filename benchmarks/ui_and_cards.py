"""What seeing a run costs: the web UI's run page of a 5,000-task run, and default cards on a 1,000-task run.

    python benchmarks/ui_and_cards.py [--page-tasks 5000] [--card-tasks 1000] [--repeats 3] [--workers N]

1. Run page: a datastore holding one run of ``--page-tasks`` tasks (a foreach; records written as the executor
   writes them) is served by the UI on a local port; the page is fetched cold (first request, nothing cached) and
   warm (median of five). Target: under 1 s.
2. Cards: the time to render and write one default card, then the same ``--card-tasks``-task foreach flow runs with
   the local runtime without and with ``@card`` on every
   step, alternating, ``--repeats`` times; the medians' difference is what the cards add. Target: under 5 %. The CPU
   time of the task processes is compared as well: on a busy machine it holds still where wall times do not.
"""

from __future__ import annotations

import argparse
import resource
import statistics
import sys
import tempfile
import time
import urllib.request
from datetime import timedelta
from pathlib import Path

from flowkit import Flow, Parameter, card, step


class PlainFanout(Flow):
    width = Parameter("width", default=10)

    @step
    def start(self):
        self.items = list(range(self.width))
        self.next(self.work, foreach="items")

    @step
    def work(self):
        self.square = self.input * self.input
        self.next(self.join)

    @step
    def join(self, inputs):
        self.total = sum(task.square for task in inputs)
        self.next(self.end)

    @step
    def end(self):
        pass


class CardFanout(Flow):
    width = Parameter("width", default=10)

    @card
    @step
    def start(self):
        self.items = list(range(self.width))
        self.next(self.work, foreach="items")

    @card
    @step
    def work(self):
        self.square = self.input * self.input
        self.next(self.join)

    @card
    @step
    def join(self, inputs):
        self.total = sum(task.square for task in inputs)
        self.next(self.end)

    @card
    @step
    def end(self):
        pass


def write_big_run(root: Path, tasks: int) -> str:
    """A finished run of ``tasks`` tasks (start, a foreach of tasks - 3, join, end) with records as the executor
    writes them. Written directly, without the executor's fsync per file: only reading them is measured."""
    from flowkit.datastore import DataStore, RunRecord, TaskRecord, utc_now
    from flowkit.graph import build_graph
    from flowkit.identity import TaskRef
    from flowkit.specs import resolve_step_specs

    store = DataStore(root)
    run_id = "big"
    graph = build_graph(PlainFanout)
    specs = {name: spec.model_dump(mode="json") for name, spec in resolve_step_specs(PlainFanout).items()}
    store.write_run(RunRecord(flow="PlainFanout", run_id=run_id, graph=graph.to_dict(), parameters={"width": "1"}))
    artifacts = {"items": store.put_artifact(list(range(tasks - 3))), "square": store.put_artifact(4)}
    began = utc_now()
    paths = [("start", ()), *(("work", (index,)) for index in range(tasks - 3)), ("join", ()), ("end", ())]
    for number, (step_name, index_path) in enumerate(paths):
        coords = TaskRef("PlainFanout", run_id, step_name, index_path)
        started = began + timedelta(milliseconds=20 * number)
        record = TaskRecord(
            flow="PlainFanout",
            run_id=run_id,
            step=step_name,
            task_id=coords.task_id,
            index_path=list(index_path),
            status="succeeded",
            started_at=started,
            finished_at=started + timedelta(milliseconds=35),
            exit_code=0,
            artifacts=artifacts,
            num_splits=tasks - 3 if step_name == "start" else None,
            spec=specs[step_name],
        )
        path = store.record_path(coords, 0)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(record.to_json())
    return run_id


def time_run_page(tasks: int) -> tuple[float, float, int]:
    """Cold and warm seconds to fetch the run page, and its size in bytes."""
    from flowkit.ui.server import background_server

    with tempfile.TemporaryDirectory(prefix="ui-bench-") as directory:
        root = Path(directory)
        run_id = write_big_run(root, tasks)
        with background_server(root) as base:
            timings = []
            for _ in range(6):
                started = time.perf_counter()
                with urllib.request.urlopen(f"{base}/runs/PlainFanout/{run_id}", timeout=60) as response:
                    size = len(response.read())
                timings.append(time.perf_counter() - started)
    return timings[0], statistics.median(timings[1:]), size


def time_one_card(samples: int = 200) -> float:
    """Median seconds to render and write one default card of a foreach task (what @card adds to each task), in a
    warm process: a forked task pays more, its first touch of the renderer's code and data being cold."""
    from flowkit.cards.declaration import CardDeclaration
    from flowkit.cards.task import TaskCards
    from flowkit.datastore import DataStore, TaskRecord, utc_now
    from flowkit.graph import build_graph
    from flowkit.identity import TaskRef

    graph = build_graph(CardFanout)
    with tempfile.TemporaryDirectory(prefix="card-one-") as directory:
        store = DataStore(directory)
        artifacts = {"width": store.put_artifact(997), "items": store.put_artifact(list(range(997)))}
        artifacts["square"] = store.put_artifact(49)
        timings = []
        for index in range(samples):
            coords = TaskRef("CardFanout", "r", "work", (index,))
            started = utc_now()
            cards = TaskCards([CardDeclaration()], store, coords, 0, graph, ["width"], started)
            cards.remember_values({"square": 49})  # what the executor hands over: the step set square, read nothing
            record = TaskRecord(
                flow="CardFanout", run_id="r", step="work", task_id=coords.task_id, index_path=[index],
                status="succeeded", started_at=started, finished_at=utc_now(), artifacts=artifacts,
            )  # fmt: skip
            began = time.perf_counter()
            cards.write_final(record)
            timings.append(time.perf_counter() - began)
    return statistics.median(timings)


def time_flow(flow_cls: type[Flow], tasks: int, workers: int | None) -> tuple[float, float]:
    """The run's wall time and the CPU time its task processes used (user + system, all of them together)."""
    from flowkit.runtime.api import run_flow

    with tempfile.TemporaryDirectory(prefix="card-bench-") as directory:
        cpu_before = _task_processes_cpu()
        started = time.perf_counter()
        run = run_flow(
            flow_cls, {"width": tasks - 3}, max_workers=workers, datastore_root=directory, max_num_splits=tasks
        )
        elapsed = time.perf_counter() - started
        if not run.successful:
            raise RuntimeError(f"{flow_cls.__name__} failed")
    return elapsed, _task_processes_cpu() - cpu_before


def _task_processes_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--page-tasks", type=int, default=5000)
    parser.add_argument("--card-tasks", type=int, default=1000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--workers", type=int, default=None, help="Local runtime workers [default: CPUs].")
    args = parser.parse_args()

    cold, warm, size = time_run_page(args.page_tasks)
    verdict = "OK" if max(cold, warm) < 1.0 else "SLOWER THAN TARGET"
    kib = size / 1024
    print(f"run page, {args.page_tasks} tasks: cold {cold:.3f} s, warm {warm:.3f} s, {kib:.0f} KiB  [{verdict} < 1 s]")

    one_card = time_one_card()
    print(f"one default card (render + atomic write): {one_card * 1000:.2f} ms per task")
    plain, carded = [], []
    for _ in range(args.repeats):
        plain.append(time_flow(PlainFanout, args.card_tasks, args.workers))
        carded.append(time_flow(CardFanout, args.card_tasks, args.workers))
    without, with_cards = (statistics.median(wall for wall, _ in runs) for runs in (plain, carded))
    overhead = (with_cards - without) / without
    verdict = "OK" if overhead < 0.05 else "MORE THAN TARGET"
    walls = [[round(wall, 2) for wall, _ in runs] for runs in (plain, carded)]
    print(
        f"{args.card_tasks} tasks: without cards {without:.2f} s, with a default card on every task {with_cards:.2f} s "
        f"({overhead:+.1%})  [{verdict} < 5 %]; runs: {walls[0]} vs {walls[1]}"
    )
    # On a busy machine the runs' spread can exceed the difference; the CPU the task processes use cannot (it counts
    # everything a card costs a task: importing the renderer, rendering, writing).
    cpu_without, cpu_with = (statistics.median(cpu for _, cpu in runs) for runs in (plain, carded))
    per_task = (cpu_with - cpu_without) / args.card_tasks
    verdict = "OK" if (cpu_with - cpu_without) / cpu_without < 0.05 else "MORE THAN TARGET"
    print(
        f"task processes' CPU: {cpu_without:.2f} s without cards, {cpu_with:.2f} s with "
        f"({per_task * 1000:+.2f} ms a task, {(cpu_with - cpu_without) / cpu_without:+.1%})  [{verdict} < 5 %]"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
