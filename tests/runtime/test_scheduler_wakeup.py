"""The scheduler sleeps until something happens to a task, never on a timer: a finished task is noticed the moment
it exits, so a run of short tasks spends no wall time waiting out a poll interval.

No timing is asserted. The selector the scheduler waits on is recorded, and every wait must have ended with an event
(output, end of output, or a task's exit), none with its timeout. The step hands its output pipes back early and
keeps running for a while: a scheduler that learned of exits by polling would time out again and again then.
"""

from __future__ import annotations

import selectors
from pathlib import Path
from typing import Any

import pytest

from flowkit import Flow, step
from flowkit.runtime import scheduler
from flowkit.runtime.api import run_flow


class QuietEarlyFlow(Flow):
    @step
    def start(self):
        print("before the pipes close")
        self.next(self.linger)

    @step
    def linger(self):
        import os
        import time

        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, 1)  # the task's last copies of its output pipes: the scheduler sees them end now
        os.dup2(devnull, 2)
        time.sleep(0.3)  # while the process lives on
        self.next(self.end)

    @step
    def end(self):
        pass


class _RecordingSelector(selectors.DefaultSelector):  # type: ignore[misc,valid-type]
    """The platform's selector, remembering how many events each wait returned."""

    event_counts: list[int] = []

    def select(self, timeout: float | None = None) -> list[tuple[selectors.SelectorKey, int]]:
        events: list[tuple[selectors.SelectorKey, int]] = super().select(timeout)
        self.event_counts.append(len(events))
        return events


def test_every_wait_of_the_scheduler_ends_with_an_event_never_a_timeout(
    datastore_root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    event_counts: list[int] = []
    monkeypatch.setattr(_RecordingSelector, "event_counts", event_counts)
    monkeypatch.setattr(scheduler.selectors, "DefaultSelector", _RecordingSelector)
    # With no deadline near, only an idle scheduler's safety wake-up could end a wait without an event: pushed far
    # out, a slow machine cannot mistake a long task for a poll.
    monkeypatch.setattr(scheduler, "IDLE_WAIT_SECONDS", 600.0)
    run: Any = run_flow(QuietEarlyFlow, {}, datastore_root=datastore_root, max_workers=1, quiet=True)
    assert run.successful
    assert event_counts, "the scheduler waited on its selector"
    assert 0 not in event_counts, f"a wait ended by timeout: events per wait {event_counts}"
