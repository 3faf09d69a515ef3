"""Artifact write and read throughput of the datastore alone, without a flow around it.

    python benchmarks/artifact_io.py [--mib 200] [--repeats 5] [--root DIR]

For each payload, every repeat stores the artifact in a forked process and loads it in another one, as the local
runtime does with the tasks of two consecutive steps: neither side finds anything of the other's in its memory. The
payload is created in each writer before the clock starts. The table shows medians and what each half costs, which is
what `benchmarks/runtime_vs_metaflow.py` cannot separate (its artifact rows time a whole flow, task launch included).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

MIB = 1 << 20


def payloads(size: int) -> dict[str, Callable[[], Any]]:
    """Ways to build the artifact: incompressible, all zeros (as `bytes(n)` leaves them), and a numpy array."""
    built: dict[str, Callable[[], Any]] = {"random bytes": lambda: os.urandom(size), "zero bytes": lambda: bytes(size)}
    try:
        import numpy
    except ImportError:
        return built
    built["numpy float64 ramp"] = lambda: numpy.linspace(0.0, 1.0, size // 8)
    return built


def in_child(work: Callable[[], Any]) -> Any:
    """Run ``work`` in a forked child and return its JSON-able result."""
    reading, writing = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(reading)
        try:
            os.write(writing, json.dumps(work()).encode())
        finally:
            os._exit(0)
    os.close(writing)
    chunks = []
    while chunk := os.read(reading, 1 << 16):
        chunks.append(chunk)
    os.close(reading)
    os.waitpid(pid, 0)
    if not chunks:
        raise RuntimeError("the child process failed")
    return json.loads(b"".join(chunks))


def write_then_read(root: Path, build: Callable[[], Any]) -> tuple[float, float, int]:
    """Seconds to store the artifact and to load it back (each in a fresh child), and the blob's size on disk."""
    from flowkit.datastore import DataStore

    def write() -> tuple[str, float]:
        value = build()
        started = time.perf_counter()
        ref = DataStore(root).put_artifact(value)
        return ref.sha256, time.perf_counter() - started

    def read(sha256: str) -> float:
        store = DataStore(root)
        started = time.perf_counter()
        store.blobs.load(sha256)
        return time.perf_counter() - started

    sha256, wrote = in_child(write)
    stored = DataStore(root).blobs.path(sha256).stat().st_size
    return wrote, in_child(lambda: read(sha256)), stored


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--mib", type=int, default=200, help="Artifact size in MiB.")
    parser.add_argument("--repeats", type=int, default=5, help="Write+read rounds per payload (median shown).")
    parser.add_argument("--root", type=Path, default=None, help="Directory for the datastores (default: a temp dir).")
    args = parser.parse_args()
    size = args.mib * MIB

    header = f"{'payload':<20} {'write MiB/s':>12} {'read MiB/s':>11} {'write+read MiB/s':>17} {'stored MiB':>11}"
    print(header + "\n" + "-" * len(header))
    for name, build in payloads(size).items():
        rounds = []
        for _ in range(args.repeats):
            with tempfile.TemporaryDirectory(prefix="artifact-io-", dir=args.root) as directory:
                rounds.append(write_then_read(Path(directory), build))
        wrote = statistics.median(seconds for seconds, _, _ in rounds)
        read = statistics.median(seconds for _, seconds, _ in rounds)
        both = statistics.median(write + read for write, read, _ in rounds)
        stored = rounds[0][2] / MIB
        print(f"{name:<20} {args.mib / wrote:>12.0f} {args.mib / read:>11.0f} {args.mib / both:>17.0f} {stored:>11.3g}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
