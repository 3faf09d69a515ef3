"""--max-workers bounds how many tasks run at once, and foreach tasks really do run side by side.

Each task announces itself with a file in a shared directory, then waits (up to `patience` seconds) for a peer to
show up, recording the most tasks it ever saw running at once. No timing is asserted: only who overlapped whom.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.runtime.cli_runner import describe, run_flow_file, write_flow

FLOW = """
import os, time
from pathlib import Path
from flowkit import Flow, Parameter, step


class WidthFlow(Flow):
    rendezvous = Parameter("rendezvous", type=str, required=True)
    patience = Parameter("patience", type=float, default=20.0)

    @step
    def start(self):
        self.items = list(range(4))
        self.next(self.work, foreach="items")

    @step
    def work(self):
        here = Path(self.rendezvous)
        mine = here / f"running-{self.input}"
        mine.touch()
        self.peak = 0
        deadline = time.monotonic() + self.patience
        while time.monotonic() < deadline:
            self.peak = max(self.peak, len(list(here.glob("running-*"))))
            if self.peak >= 2:
                break
            time.sleep(0.02)
        time.sleep(0.3)  # stay visible so a peer that started just now sees us too
        self.peak = max(self.peak, len(list(here.glob("running-*"))))
        mine.unlink()
        self.next(self.join)

    @step
    def join(self, inputs):
        self.peak = max(task.peak for task in inputs)
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    WidthFlow()
"""


@pytest.mark.e2e
@pytest.mark.parametrize(("workers", "patience", "expected_peak"), [(2, "20", 2), (1, "0.5", 1)])
def test_max_workers_is_the_concurrency(
    workers: int, patience: str, expected_peak: int, tmp_path: Path, datastore_root: Path
) -> None:
    rendezvous = tmp_path / "rendezvous"
    rendezvous.mkdir()
    flow_file = write_flow(tmp_path, FLOW)
    result, run = run_flow_file(
        flow_file,
        "--rendezvous",
        str(rendezvous),
        "--patience",
        patience,
        "--max-workers",
        str(workers),
        datastore_root=datastore_root,
    )
    assert result.returncode == 0, describe(result)
    assert run.data.peak == expected_peak
