"""flowkit's local runtime against Metaflow's, on the same flows, side by side in one process.

Every flow is written once as a template; the flowkit and Metaflow versions differ only in their import line. For
each measurement the two frameworks alternate within every repeat (same machine state), and the table shows the
median of each plus their ratio next to the target.

    python benchmarks/runtime_vs_metaflow.py [--repeats 5] [--metaflow-python PATH] [--only TEXT ...]

Before measuring, each framework runs a flow once untimed, with bytecode writing allowed: an installed package
carries compiled bytecode, but an editable checkout (or a `PYTHONDONTWRITEBYTECODE=1` shell) would otherwise make one
side recompile its modules on every run. The warm-up also loads both frameworks' files into the page cache.

Metaflow runs with no server: local metadata and datastore under a temporary directory (METAFLOW_HOME, USERNAME and
the local sysroot all point there). If Metaflow is not importable, the script says so loudly and prints only
flowkit's figures; it never invents Metaflow's.
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

IMPORTS = {"flowkit": "from flowkit import FlowSpec, step", "metaflow": "from metaflow import FlowSpec, step"}
MIB = 1 << 20
ARTIFACT_MIB = 200

LINEAR_FLOW = """
{import_line}


class LinearFlow(FlowSpec):
    @step
    def start(self):
        self.value = 0
        self.next(self.{first})
{middle_steps}
    @step
    def end(self):
        print("value", self.value)


if __name__ == "__main__":
    LinearFlow()
"""

MIDDLE_STEP = """
    @step
    def s{index}(self):
        self.value += 1
        self.next(self.{following})
"""

FOREACH_FLOW = """
{import_line}


class ForeachFlow(FlowSpec):
    @step
    def start(self):
        self.items = list(range({width}))
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
        print("total", self.total)


if __name__ == "__main__":
    ForeachFlow()
"""

ARTIFACT_FLOW = """
{import_line}
import os
import time


class ArtifactFlow(FlowSpec):
    @step
    def start(self):
        self.blob = {payload}
        self.written_at = time.time()
        self.next(self.end)

    @step
    def end(self):
        size = len(self.blob)
        print("ELAPSED=%.6f SIZE=%d" % (time.time() - self.written_at, size))


if __name__ == "__main__":
    ArtifactFlow()
"""


RESUME_FLOW = """
{import_line}
import os
import time

FAIL_FLAG = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fail")


class ResumeFlow(FlowSpec):
    @step
    def start(self):
        self.items = list(range({width}))
        self.next(self.work, foreach="items")

    @step
    def work(self):
        if self.input == {width} - 1 and os.path.exists(FAIL_FLAG):
            time.sleep(2)  # the last task fails after its siblings finished, so the origin run holds all of them
            raise RuntimeError("the last task fails while the flag is up")
        self.square = self.input * self.input
        self.next(self.join)

    @step
    def join(self, inputs):
        self.total = sum(task.square for task in inputs)
        self.next(self.end)

    @step
    def end(self):
        print("total", self.total)


if __name__ == "__main__":
    ResumeFlow()
"""
RESUME_WIDTH = 200


@dataclass
class Framework:
    name: str
    python: str
    available: bool


def linear_source(import_line: str, steps: int = 10) -> str:
    names = [f"s{index}" for index in range(1, steps - 1)] + ["end"]
    middle = "".join(MIDDLE_STEP.format(index=index, following=names[index]) for index in range(1, steps - 1))
    return LINEAR_FLOW.format(import_line=import_line, middle_steps=middle, first=names[0])


def framework_env(framework: str, workdir: Path) -> dict[str, str]:
    """A private, server-less home for each run so that neither framework sees the other's (or the user's) state."""
    env = dict(os.environ)
    env.pop("FLOWKIT_DATASTORE_ROOT", None)
    env.pop("PYTHONDONTWRITEBYTECODE", None)  # both frameworks run from compiled bytecode, as installed packages do
    if framework == "metaflow":
        env.update(
            METAFLOW_HOME=str(workdir / "metaflow-home"),
            USERNAME="benchmark",
            METAFLOW_USER="benchmark",
            METAFLOW_DEFAULT_DATASTORE="local",
            METAFLOW_DEFAULT_METADATA="local",
            METAFLOW_DATASTORE_SYSROOT_LOCAL=str(workdir / "store"),
            METAFLOW_DEFAULT_ENVIRONMENT="local",
        )
    return env


def run_flow_file(framework: Framework, source: str, extra_args: list[str]) -> tuple[float, str, int]:
    """Run a flow once in a fresh directory: (wall seconds, its output, files its datastore holds afterwards)."""
    with tempfile.TemporaryDirectory(prefix=f"bench-{framework.name}-") as directory:
        workdir = Path(directory)
        flow_file = workdir / "flow.py"
        flow_file.write_text(source)
        store = workdir / "store"
        args = [framework.python, str(flow_file), "run", *extra_args]
        if framework.name == "flowkit":
            args += ["--datastore-root", str(store)]
        started = time.perf_counter()
        completed = subprocess.run(
            args, cwd=workdir, env=framework_env(framework.name, workdir), capture_output=True, text=True
        )
        elapsed = time.perf_counter() - started
        if completed.returncode != 0:
            raise RuntimeError(f"{framework.name} run failed:\n{completed.stdout}\n{completed.stderr}")
        files = sum(len(names) for _, _, names in os.walk(store))
        return elapsed, completed.stdout + completed.stderr, files


def resume_seconds(framework: Framework) -> float:
    """Wall time of resuming a 200-way foreach whose last task failed (the failed run itself is not timed, and its
    writes are flushed to disk first).

    flowkit's resume must reuse the 199 tasks that succeeded and run only the failed one, the join and end; the
    measurement refuses to count a resume that did anything else.
    """
    with tempfile.TemporaryDirectory(prefix=f"bench-resume-{framework.name}-") as directory:
        workdir = Path(directory)
        flow_file = workdir / "flow.py"
        flow_file.write_text(RESUME_FLOW.format(import_line=IMPORTS[framework.name], width=RESUME_WIDTH))
        fail_flag = workdir / "fail"
        fail_flag.touch()
        env = framework_env(framework.name, workdir)
        store_args = ["--datastore-root", str(workdir / "store")] if framework.name == "flowkit" else []
        wide_foreach = ["--max-workers", "4", "--max-num-splits", str(RESUME_WIDTH)]  # both default to 100
        origin = subprocess.run(
            [framework.python, str(flow_file), "run", *wide_foreach, *store_args],
            cwd=workdir,
            env=env,
            capture_output=True,
            text=True,
        )
        if origin.returncode == 0:
            raise RuntimeError(f"{framework.name}: the run meant to fail succeeded:\n{origin.stdout}")
        fail_flag.unlink()
        # The failed run's writes reach the disk before the resume is timed, as they have by the time a user has
        # fixed the failure: otherwise the resume's first fsync (flowkit's commits fsync, Metaflow's do not) would
        # wait for the writeback of the whole failed run, which the failed run itself left behind.
        os.sync()
        started = time.perf_counter()
        resumed = subprocess.run(
            [framework.python, str(flow_file), "resume", *wide_foreach, *store_args],
            cwd=workdir,
            env=env,
            capture_output=True,
            text=True,
        )
        elapsed = time.perf_counter() - started
    output = resumed.stdout + resumed.stderr
    if resumed.returncode != 0 or f"total {sum(i * i for i in range(RESUME_WIDTH))}" not in output:
        raise RuntimeError(f"{framework.name} resume failed:\n{output}")
    if (
        framework.name == "flowkit"
        and f"work: {RESUME_WIDTH - 1} reused; 1 run (failed in the origin run)" not in output
    ):
        raise RuntimeError(f"flowkit's resume did not reuse exactly the succeeded foreach tasks:\n{output}")
    return elapsed


def import_seconds(framework: Framework) -> float:
    """What a flow file pays before its first line of its own code runs, in a fresh interpreter."""
    code = (
        f"import time; started = time.perf_counter(); {IMPORTS[framework.name]}; print(time.perf_counter() - started)"
    )
    with tempfile.TemporaryDirectory() as directory:
        env = framework_env(framework.name, Path(directory))
        output = subprocess.run([framework.python, "-c", code], env=env, cwd=directory, capture_output=True, text=True)
    if output.returncode != 0:
        raise RuntimeError(output.stderr)
    return float(output.stdout.strip().splitlines()[-1])


def artifact_throughput(framework: Framework, payload: str) -> float:
    """MiB/s of storing a 200 MiB artifact in one step and loading it in the next (launching that step included)."""
    source = ARTIFACT_FLOW.format(import_line=IMPORTS[framework.name], payload=payload)
    _, output, _ = run_flow_file(framework, source, [])
    match = re.search(r"ELAPSED=([0-9.]+) SIZE=(\d+)", output)
    if match is None:
        raise RuntimeError(f"{framework.name}: no timing in the artifact flow's output:\n{output}")
    return int(match.group(2)) / MIB / float(match.group(1))


@dataclass
class Measure:
    """One row of the table: how to measure it, its unit, and whether (flowkit, metaflow) medians meet the target."""

    label: str
    unit: str
    measure: Callable[[Framework], float]
    target: str
    meets: Callable[[float, float], bool]


def measures() -> list[Measure]:
    linear_tasks, foreach_tasks = 10, 100 + 3

    def linear_seconds(framework: Framework, steps: int) -> float:
        return run_flow_file(framework, linear_source(IMPORTS[framework.name], steps), [])[0]

    def wall_per_task(framework: Framework) -> float:
        return linear_seconds(framework, linear_tasks) / linear_tasks

    def marginal_per_task(framework: Framework) -> float:
        """What one more task costs, with the interpreter's start-up and imports (paid once per run) taken out."""
        return (linear_seconds(framework, linear_tasks) - linear_seconds(framework, 2)) / (linear_tasks - 2)

    def foreach(framework: Framework) -> float:
        source = FOREACH_FLOW.format(import_line=IMPORTS[framework.name], width=100)
        elapsed, _, _ = run_flow_file(framework, source, ["--max-workers", "2"])
        return elapsed

    def files(framework: Framework) -> float:
        _, _, count = run_flow_file(framework, linear_source(IMPORTS[framework.name]), [])
        return count / linear_tasks

    random_bytes, zeros = f"os.urandom({ARTIFACT_MIB} * {MIB})", f"bytes({ARTIFACT_MIB} * {MIB})"
    return [
        Measure(
            "per-task overhead, linear: (t10 - t2) / 8",
            "s",
            marginal_per_task,
            "<= 1/20",
            lambda flowkit, metaflow: flowkit / metaflow <= 1 / 20,
        ),
        Measure(
            "wall time / tasks, 10-step linear",
            "s",
            wall_per_task,
            "<= 1/20",
            lambda flowkit, metaflow: flowkit / metaflow <= 1 / 20,
        ),
        Measure(
            f"100-way foreach, --max-workers 2 ({foreach_tasks} tasks)",
            "s",
            foreach,
            "<= 1/20",
            lambda flowkit, metaflow: flowkit / metaflow <= 1 / 20,
        ),
        Measure(
            f"{ARTIFACT_MIB} MiB random artifact write+read",
            "MiB/s",
            lambda framework: artifact_throughput(framework, random_bytes),
            ">= 15x",
            lambda flowkit, metaflow: flowkit / metaflow >= 15,
        ),
        Measure(
            f"{ARTIFACT_MIB} MiB zeros artifact write+read",
            "MiB/s",
            lambda framework: artifact_throughput(framework, zeros),
            ">= 15x",
            lambda flowkit, metaflow: flowkit / metaflow >= 15,
        ),
        Measure(
            f"resume of a {RESUME_WIDTH}-way foreach, 1 task failed",
            "s",
            resume_seconds,
            "<= 1/20",
            lambda flowkit, metaflow: flowkit / metaflow <= 1 / 20,
        ),
        Measure(
            "import (from X import FlowSpec, step)",
            "s",
            import_seconds,
            "<= 0.7x",
            lambda flowkit, metaflow: flowkit / metaflow <= 0.7,
        ),
        Measure("files written per task (linear)", "files", files, "flowkit <= 5", lambda flowkit, _: flowkit <= 5),
    ]


def warm_up(framework: Framework) -> None:
    """One untimed run, so that no measured run pays for compiling modules or reading them from disk the first time."""
    run_flow_file(framework, linear_source(IMPORTS[framework.name], 3), [])


def metaflow_available(python: str) -> bool:
    probe = subprocess.run([python, "-c", "import metaflow"], capture_output=True)
    return probe.returncode == 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=5, help="Runs per measurement and framework (median shown).")
    parser.add_argument(
        "--metaflow-python",
        default=sys.executable,
        type=os.path.abspath,  # the flows run from temporary directories, where a relative path means nothing
        help="Interpreter with Metaflow installed.",
    )
    parser.add_argument(
        "--only", nargs="+", default=[], metavar="TEXT", help="Measure only the rows whose label contains a TEXT."
    )
    args = parser.parse_args()

    frameworks = [Framework("flowkit", sys.executable, True)]
    metaflow = Framework("metaflow", args.metaflow_python, metaflow_available(args.metaflow_python))
    if metaflow.available:
        frameworks.append(metaflow)
    else:
        banner = "!" * 100
        print(
            f"{banner}\nMETAFLOW IS NOT INSTALLED for {args.metaflow_python}: NO METAFLOW FIGURES AND NO RATIOS.\n"
            f"Install it (pip install 'metaflow>=2.19,<2.20') or pass --metaflow-python.\n{banner}",
            flush=True,
        )

    for framework in frameworks:
        warm_up(framework)
    rows = []
    for measure in measures():
        if args.only and not any(text in measure.label for text in args.only):
            continue
        samples: dict[str, list[float]] = {framework.name: [] for framework in frameworks}
        for _ in range(args.repeats):
            for framework in frameworks:
                samples[framework.name].append(measure.measure(framework))
        medians = {name: statistics.median(values) for name, values in samples.items()}
        rows.append((measure, medians))
        print(f"measured: {measure.label}: " + ", ".join(f"{k}={v:.4g}" for k, v in medians.items()), flush=True)

    print_table(rows, metaflow.available)
    return 0


def print_table(rows: list[tuple[Measure, dict[str, float]]], with_metaflow: bool) -> None:
    header = f"{'measure':<50} {'unit':>6} {'flowkit':>10} {'metaflow':>10} {'ratio':>8} {'target':>13}  met"
    print("\n" + header + "\n" + "-" * len(header))
    for measure, medians in rows:
        flowkit = medians["flowkit"]
        if with_metaflow:
            metaflow = medians["metaflow"]
            ratio = flowkit / metaflow
            met = measure.meets(flowkit, metaflow)
            print(
                f"{measure.label:<50} {measure.unit:>6} {flowkit:>10.4g} {metaflow:>10.4g} {ratio:>8.3g} "
                f"{measure.target:>13}  {'yes' if met else 'NO'}"
            )
        else:
            print(f"{measure.label:<50} {measure.unit:>6} {flowkit:>10.4g} {'n/a':>10} {'n/a':>8} {measure.target:>13}")


if __name__ == "__main__":
    sys.exit(main())
