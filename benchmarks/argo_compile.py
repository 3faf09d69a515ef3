"""Argo compiler benchmarks: compile time of 1,000-step flows, and manifest sizes of a 10- vs 10,000-way foreach.

    python benchmarks/argo_compile.py [--runs 7]

Targets: a 1,000-step flow (20 branches of 50 steps, a plain 1,000-step chain, and that chain with every step in a
conda environment built on the shared volume) compiles (Hera objects built and rendered with to_dict) in < 0.5 s,
into a manifest < 1 MiB; a 10,000-way foreach is no bigger than a 10-way one. "Cold" includes reading the graph
from source and resolving the specs of a freshly imported class (and, with the environment, checking its lockfile);
"warm" reuses the class's cached graph and specs, as a second `argo-create` in the same process (a notebook) does.
The flows exceed Argo's 200 tasks per DAG, so they are compiled into nested segment DAGs; the baseline measured in the
same run, interleaved with it, is the warm compile of the chain with nesting turned off (a flat DAG a cluster
would refuse), to show what nesting costs. Every time is the median of ``--runs`` runs.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from flowkit.compiler import compile_flow, compiler
from flowkit.compiler.render import to_dicts
from tests.argo.conftest import PACKAGE, branched_flow_source, linear_flow_source, load_flow_source
from tests.argo.test_size import FAN_OUT, PVC_ENVIRONMENT

STEPS = 1000
CONDA_EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "conda_env"
"""Its environment.yml and conda-lock.yml are copied beside the generated flows, for `PVC_ENVIRONMENT`."""
TARGET_SECONDS = 0.5
MIB = 1024 * 1024


def _compile(flow_cls: type) -> list[dict]:
    return to_dicts(compile_flow(flow_cls, package=PACKAGE))


def _median_seconds(runs: int, prepare: Callable[[], type]) -> float:
    times = []
    for _ in range(runs):
        flow_cls = prepare()
        start = time.perf_counter()
        _compile(flow_cls)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def _nesting_ratio(runs: int, flow_cls: type) -> tuple[float, float]:
    """Median warm compile seconds with nesting and without it (one flat DAG, which a cluster would refuse), runs
    interleaved so that both see the same machine load: the baseline for what nesting costs."""
    nest = compiler.split_large_dags
    nested, flat = [], []
    try:
        for _ in range(runs):
            compiler.split_large_dags = nest
            nested.append(_median_seconds(1, lambda: flow_cls))
            compiler.split_large_dags = lambda dags: dags  # type: ignore[assignment]
            flat.append(_median_seconds(1, lambda: flow_cls))
    finally:
        compiler.split_large_dags = nest
    return statistics.median(nested), statistics.median(flat)


def _measure(directory: Path, runs: int, source: str, name: str) -> tuple[float, float, int, int, int]:
    """(cold, warm) median seconds, container templates, DAG templates and manifest bytes of one flow."""
    cold = _median_seconds(runs, lambda: load_flow_source(directory, source, name))
    warm_class = load_flow_source(directory, source, name)
    warm = _median_seconds(runs, lambda: warm_class)
    (manifest,) = _compile(warm_class)
    containers = sum("container" in template for template in manifest["spec"]["templates"])
    dags = sum("dag" in template for template in manifest["spec"]["templates"])
    return cold, warm, containers, dags, len(json.dumps(manifest))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    runs = parser.parse_args(argv).runs
    flows = {
        "branched": (branched_flow_source(STEPS), "BranchedFlow"),
        "chain": (linear_flow_source(STEPS), "GeneratedFlow"),
        "conda-environment chain": (linear_flow_source(STEPS, class_decorator=PVC_ENVIRONMENT), "GeneratedFlow"),
    }
    verdicts = []
    with tempfile.TemporaryDirectory() as scratch:
        directory = Path(scratch)
        for name in ("environment.yml", "conda-lock.yml"):
            shutil.copy(CONDA_EXAMPLE / name, directory / name)
        # Import Hera and conda-lock once, outside the timings.
        _compile(load_flow_source(directory, *flows["conda-environment chain"]))
        for label, (source, name) in flows.items():
            cold, warm, containers, dags, size = _measure(directory, runs, source, name)
            verdict = "OK" if max(cold, warm) < TARGET_SECONDS and size < MIB else "MISSED"
            verdicts.append(verdict)
            print(
                f"{STEPS}-step {label} flow: {containers} container templates, {dags} DAG templates, "
                f"manifest {size / 1024:.1f} KiB (target < 1024 KiB)"
            )
            print(f"  compile + to_dict, cold (graph read from source): median {cold * 1000:.0f} ms over {runs} runs")
            print(f"  compile + to_dict, warm (cached graph and specs):  median {warm * 1000:.0f} ms over {runs} runs")
            print(f"  target < {TARGET_SECONDS * 1000:.0f} ms: {verdict}")
            if label == "chain":
                nested, flat = _nesting_ratio(runs, load_flow_source(directory, source, name))
                print(
                    f"  warm, interleaved: nested {nested * 1000:.0f} ms, without nesting (one flat DAG, the "
                    f"baseline) {flat * 1000:.0f} ms; nested / flat = {nested / flat:.2f}"
                )

        fan_sizes = {
            width: len(json.dumps(_compile(load_flow_source(directory, FAN_OUT.format(width=width), "FanFlow"))))
            for width in (10, 10_000)
        }

    difference = fan_sizes[10_000] - fan_sizes[10]
    print(f"foreach manifest: 10-way {fan_sizes[10]} bytes, 10,000-way {fan_sizes[10_000]} bytes")
    print(f"  difference {difference} bytes (the parameter default '10000' vs '10'; the fan-out is a runtime list)")
    return 0 if all(verdict == "OK" for verdict in verdicts) else 1


if __name__ == "__main__":
    sys.exit(main())
