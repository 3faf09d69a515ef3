"""Chaos trials: SIGKILL the scheduler or a task at a random moment, resume until the run finishes, then check that
every artifact read back is exactly what its task wrote and that nothing half-written is left behind.

    python -m tests.chaos.chaos [--trials 300] [--seed N] [--root DIR]

One trial: a fresh datastore; ``run`` a foreach flow whose tasks store artifacts of every blob kind (small raw, a
streamed raw blob over the in-memory limit, compressible frames); kill the scheduler or a random task process after a
random delay; then ``resume`` (itself killed at random, now and then) until a run succeeds. A run killed before it
recorded itself cannot be resumed and is started again. Finally every task's artifacts are compared with what the
task must have computed (a *wrong read* is any difference), the join's digests are checked, and the datastore is
searched for temporary files: those that runs and resumes did not sweep are *leftovers* (``gc`` must then take them
all). The short version runs in the normal test suite (`tests/chaos/test_chaos.py`); ``nox -s chaos`` runs hundreds.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

from flowkit.datastore import DataStore
from flowkit.datastore.gc import collect_garbage

REPO_ROOT = Path(__file__).resolve().parents[2]
WIDTH = 8
FLOW_SOURCE = '''
import hashlib, os, random, time
from pathlib import Path
from flowkit import Flow, step


def expected_payload(index):
    """What work task `index` stores: every fourth one streamed (over 8 MiB), every third compressible."""
    size = 9 * 2**20 + 17 if index % 4 == 0 else 50_000 + index
    if index % 3 == 0:
        return (bytes(range(251)) * (size // 251 + 1))[:size]
    return random.Random(index).randbytes(size)


class ChaosFlow(Flow):
    @step
    def start(self):
        self.items = list(range({width}))
        self.next(self.work, foreach="items")

    @step
    def work(self):
        pids = Path(os.environ["CHAOS_PIDS"])
        (pids / str(os.getpid())).touch()
        time.sleep(random.random() * 0.2)
        self.payload = expected_payload(self.input)
        self.digest = hashlib.sha256(self.payload).hexdigest()
        self.next(self.join)

    @step
    def join(self, inputs):
        self.digests = [hashlib.sha256(task.payload).hexdigest() for task in inputs]
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    ChaosFlow()
'''.replace("{width}", str(WIDTH))


@dataclass
class Report:
    """What the trials saw; the suite asserts on it, ``nox -s chaos`` prints it."""

    trials: int = 0
    kills: int = 0
    resumes: int = 0
    restarts: int = 0
    wrong_reads: int = 0
    leftover_files: int = 0
    leftover_after_gc: int = 0
    unfinished: int = 0
    problems: list[str] = field(default_factory=list)

    def line(self) -> str:
        return (
            f"trials {self.trials}, kills {self.kills}, resumes {self.resumes}, restarts {self.restarts}, "
            f"wrong reads {self.wrong_reads}, leftover files {self.leftover_files} (after gc {self.leftover_after_gc})"
            f", unfinished {self.unfinished}"
        )


def run_trials(trials: int, *, seed: int, root: Path | None = None) -> Report:
    report = Report()
    chooser = random.Random(seed)
    for _ in range(trials):
        with tempfile.TemporaryDirectory(prefix="flowkit-chaos-", dir=root) as directory:
            _trial(Path(directory), chooser, report)
        report.trials += 1
    return report


def _trial(directory: Path, chooser: random.Random, report: Report) -> None:
    flow_file = directory / "flow.py"
    flow_file.write_text(FLOW_SOURCE)
    pids = directory / "pids"
    pids.mkdir()
    env = {
        **os.environ,
        "PYTHONPATH": str(REPO_ROOT),
        "FLOWKIT_DATASTORE_ROOT": str(directory / "datastore"),
        "CHAOS_PIDS": str(pids),
    }
    command = "run"
    run_id = None
    for attempt in range(12):
        kill = attempt == 0 or chooser.random() < 0.3
        outcome, run_id = _one_process(flow_file, command, env, pids, chooser if kill else None, report)
        if outcome == "succeeded":
            break
        if outcome == "unrecorded":  # killed before its run recorded itself: nothing to resume, start again
            command = "run"
            report.restarts += 1
        else:
            command = "resume"
            report.resumes += 1
    else:
        report.unfinished += 1
        report.problems.append(f"{directory}: no run finished after 12 attempts")
        return
    assert run_id is not None
    _verify(directory, env, run_id, report)


def _one_process(
    flow_file: Path, command: str, env: dict[str, str], pids: Path, chooser: random.Random | None, report: Report
) -> tuple[str, str | None]:
    """Start ``run`` or ``resume``; maybe kill it or one of its tasks; its outcome and run id."""
    run_id_file = pids.parent / f"run-id-{time.monotonic_ns()}"
    process = subprocess.Popen(
        [sys.executable, str(flow_file), command, "--max-workers", "3", "--run-id-file", str(run_id_file)],
        env=env,
        cwd=flow_file.parent,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    if chooser is not None:
        time.sleep(chooser.random() * 1.5)
        if process.poll() is None:
            if chooser.random() < 0.5:
                process.send_signal(signal.SIGKILL)
                report.kills += 1
            elif _kill_a_task(pids, chooser):
                report.kills += 1
    output, _ = process.communicate(timeout=600)
    run_id = run_id_file.read_text().strip() if run_id_file.exists() else None
    if process.returncode == 0:
        return "succeeded", run_id
    if "never recorded itself" in output or "no run recorded itself" in output or "no earlier run" in output:
        return "unrecorded", run_id
    return "failed", run_id


def _kill_a_task(pids: Path, chooser: random.Random) -> bool:
    """SIGKILL one task process that still runs; whether there was one."""
    candidates = [int(path.name) for path in pids.iterdir()]
    chooser.shuffle(candidates)
    for pid in candidates:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
            return True
    return False


def _verify(directory: Path, env: dict[str, str], run_id: str, report: Report) -> None:
    """Compare every artifact of the finished run with what its task computes, and count leftover temp files."""
    script = f"""
import hashlib, importlib.util, json, sys
from flowkit.client import Run
spec = importlib.util.spec_from_file_location("chaos_flow", {str(directory / "flow.py")!r})
flow = importlib.util.module_from_spec(spec); spec.loader.exec_module(flow)
run = Run("ChaosFlow/{run_id}")
wrong = []
for task in run["work"]:
    index = task.index_path[-1]
    expected = flow.expected_payload(index)
    if task.data.payload != expected or task.data.digest != hashlib.sha256(expected).hexdigest():
        wrong.append(task.pathspec)
digests = [hashlib.sha256(flow.expected_payload(index)).hexdigest() for index in range({WIDTH})]
if run["join"].task.data.digests != digests:
    wrong.append("join")
print(json.dumps(wrong))
"""
    checked = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=300)
    if checked.returncode != 0:
        report.wrong_reads += 1
        report.problems.append(f"{directory}: verification failed: {checked.stderr.strip().splitlines()[-1:]}")
    else:
        wrong = json.loads(checked.stdout)
        report.wrong_reads += len(wrong)
        report.problems += [f"{directory}: wrong read {name}" for name in wrong]
    datastore = directory / "datastore"
    report.leftover_files += _temporary_files(datastore)
    collect_garbage(DataStore(datastore), older_than=timedelta(days=365), grace=timedelta(0))
    report.leftover_after_gc += _temporary_files(datastore)


def _temporary_files(datastore: Path) -> int:
    return sum(1 for path in datastore.rglob(".tmp-*") if path.is_file())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--trials", type=int, default=300)
    parser.add_argument("--seed", type=int, default=int(time.time()))
    parser.add_argument("--root", type=Path, default=None, help="Where trial datastores go (default: a temp dir).")
    args = parser.parse_args()
    started = time.monotonic()
    report = run_trials(args.trials, seed=args.seed, root=args.root)
    print(f"chaos (seed {args.seed}, {time.monotonic() - started:.0f} s): {report.line()}")
    for problem in report.problems:
        print(f"  {problem}")
    return 0 if not report.problems and report.wrong_reads == 0 and report.leftover_after_gc == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
