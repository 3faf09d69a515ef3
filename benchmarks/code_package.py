"""Code package benchmarks: build time for a 1,000-file project and per-task bootstrap time with a warm cache.

    python benchmarks/code_package.py [--runs 7] [--pods 8]

Targets: build < 1 s; bootstrap overhead per task with a cached extraction < 100 ms including interpreter start.
Every number is the median of several runs; the machine's bare interpreter start is shown for reference, and the
targets are checked at the end. Also measured: a cold start on an empty cache (the first pod of a new package on a
shared cache extracts it), ``--pods`` cold starts at once on one shared cache (all extract, one rename wins), and
the task supervisor's cost (forking the task into a child it watches, once per task).
"""

from __future__ import annotations

import argparse
import hashlib
import importlib
import itertools
import os
import pickle
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from flowkit.packaging import PackageRef, Payload, bootstrap_command, build_package, build_payload, publish_to_dir
from flowkit.packaging.bootstrap import SCRIPT_PATH
from flowkit.task.watchdog import supervise

BUILD_TARGET_SECONDS = 1.0
WARM_BOOTSTRAP_TARGET_SECONDS = 0.1

FLOW_SOURCE = """\
from flowkit import Flow, step

from generated.module_0000 import value_0000


class BenchFlow(Flow):
    @step
    def start(self):
        self.value = value_0000()
        self.next(self.end)

    @step
    def end(self):
        pass
"""


class ExitWhenUnpickled:
    """A payload that ends the process the moment the bootstrap unpickles it.

    Timing a bootstrap with it measures exactly the bootstrap's own work (interpreter start, digest checks, cache
    lookup, sys.path, runtime checks), without the flow's imports or the task that would follow.
    """

    def __reduce__(self) -> tuple[object, tuple[int]]:
        return os._exit, (0,)


def generate_project(root: Path, files: int) -> None:
    """A project of ``files`` Python modules of ~2 KB each, spread over 20 packages, plus the flow file."""
    for index in range(files - 1):
        package = root / "generated" if index == 0 else root / "generated" / f"pkg_{index % 20:02d}"
        package.mkdir(parents=True, exist_ok=True)
        (package / "__init__.py").touch()
        body = "".join(f"    total += {index} * {line}  # padding line {line}\n" for line in range(40))
        (package / f"module_{index:04d}.py").write_text(
            f"def value_{index:04d}():\n    total = 0\n{body}    return total\n"
        )
    (root / "benchflow.py").write_text(FLOW_SOURCE)


def median_seconds(action: Callable[[], object], runs: int) -> float:
    samples = []
    for _ in range(runs):
        started = time.perf_counter()
        action()
        samples.append(time.perf_counter() - started)
    return statistics.median(samples)


def run_process(command: list[str], cwd: Path) -> None:
    subprocess.run(command, cwd=cwd, check=True, capture_output=True)


def run_processes_at_once(commands: list[list[str]], cwd: Path) -> None:
    """Start every command, then wait for all; each must succeed."""
    processes = [subprocess.Popen(command, cwd=cwd, stdout=subprocess.DEVNULL) for command in commands]
    for process in processes:
        if process.wait() != 0:
            raise RuntimeError(f"a cold start failed with exit code {process.returncode}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--files", type=int, default=1000)
    parser.add_argument("--pods", type=int, default=8, help="cold starts at once on one shared cache")
    options = parser.parse_args()

    with tempfile.TemporaryDirectory() as temp:
        work = Path(temp)
        project = work / "project"
        generate_project(project, options.files)
        sys.path.insert(0, str(project))
        flow_cls = importlib.import_module("benchflow").BenchFlow
        package = build_package(flow_cls, project)
        payload = build_payload(flow_cls, project)
        datastore = work / "datastore"
        ref = publish_to_dir(package, payload, datastore)
        elsewhere = work / "pod"
        elsewhere.mkdir()
        cache = str(work / "cache")

        def bootstrap(task_argv: list[str], package_ref: PackageRef = ref) -> list[str]:
            return bootstrap_command(
                package_ref,
                task_argv,
                datastore_mount=str(datastore),
                python=sys.executable,
                script=str(SCRIPT_PATH),
                cache_dir=cache,
            )

        run_process(bootstrap(["--help"]), elsewhere)  # warm the extraction cache and the shipped bytecode
        exit_data = pickle.dumps(ExitWhenUnpickled(), protocol=5)
        exit_ref = publish_to_dir(package, Payload(exit_data, hashlib.sha256(exit_data).hexdigest()), datastore)
        counter = iter(range(1_000_000))

        def run_start_step() -> None:
            argv = ["--datastore-root", str(datastore), "--run-id", f"bench-{next(counter)}", "--step", "start"]
            run_process(bootstrap(argv), elsewhere)

        fresh_caches = (str(work / "cold" / str(number)) for number in itertools.count())

        def cold_start() -> None:
            command = bootstrap_command(
                exit_ref,
                [],
                datastore_mount=str(datastore),
                python=sys.executable,
                script=str(SCRIPT_PATH),
                cache_dir=next(fresh_caches),
            )
            run_process(command, elsewhere)

        def cold_starts_at_once() -> None:
            cache_dir = next(fresh_caches)
            command = bootstrap_command(
                exit_ref,
                [],
                datastore_mount=str(datastore),
                python=sys.executable,
                script=str(SCRIPT_PATH),
                cache_dir=cache_dir,
            )
            run_processes_at_once([command] * options.pods, elsewhere)

        python = sys.executable
        build_name = f"build_package, {len(package.manifest.files)} files"
        warm_name = "bootstrap alone, warm cache (up to unpickling)"
        start_name = "interpreter start (python -c pass)"
        measured: list[tuple[str, Callable[[], object]]] = [
            (build_name, lambda: build_package(flow_cls, project)),
            ("build_payload", lambda: build_payload(flow_cls, project)),
            (start_name, lambda: run_process([python, "-c", "pass"], elsewhere)),
            (warm_name, lambda: run_process(bootstrap([], exit_ref), elsewhere)),
            ("bootstrap alone, cold cache (extracts)", cold_start),
            (f"{options.pods} bootstraps at once, one cold shared cache", cold_starts_at_once),
            ("task supervisor: fork, run nothing, reap", lambda: supervise(lambda: 0, None)),
            (
                "python -m flowkit.task --help (no package)",
                lambda: run_process([python, "-m", "flowkit.task", "--help"], elsewhere),
            ),
            ("bootstrap, warm cache -> task --help", lambda: run_process(bootstrap(["--help"]), elsewhere)),
            ("bootstrap, warm cache -> start step of a run", run_start_step),
        ]
        rows = dict((name, median_seconds(action, options.runs)) for name, action in measured)
    width = max(len(name) for name in rows)
    print(f"{'measurement':<{width}}  median ms")
    for name, seconds in rows.items():
        print(f"{name:<{width}}  {seconds * 1000:9.1f}")
    print(f"archive: {package.size / 1024:.0f} KiB compressed; runs per median: {options.runs}")
    warm = rows[warm_name]
    print(
        f"warm bootstrap = {warm / rows[start_name]:.1f}x a bare interpreter start "
        f"({(warm - rows[start_name]) * 1000:.1f} ms of its own)"
    )
    for name, target in ((build_name, BUILD_TARGET_SECONDS), (warm_name, WARM_BOOTSTRAP_TARGET_SECONDS)):
        verdict = "meets" if rows[name] < target else "MISSES"
        print(f"{name}: {rows[name] * 1000:.1f} ms {verdict} the target of {target * 1000:.0f} ms")


if __name__ == "__main__":
    main()
