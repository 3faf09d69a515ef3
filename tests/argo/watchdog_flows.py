"""Flows whose tasks overrun their ``@timeout`` or die without committing, run the way a pod runs them."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

from flowkit import Flow, Parameter, catch, kubernetes, retry, step, timeout

IMAGE = "registry.example.com/ml/base:1.0"


def _start_helper(pid_file: str) -> None:
    """A process the step starts, to show that the whole process group dies; its pid goes to ``pid_file``."""
    helper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
    if pid_file:
        Path(pid_file).write_text(str(helper.pid))


@kubernetes(image=IMAGE)
class CaughtTimeoutFlow(Flow):
    """A step that sleeps past its timeout on every attempt; the last attempt's timeout is caught."""

    pid_file = Parameter("pid_file", default="")

    @step
    def start(self):
        self.before = "kept"
        self.next(self.slow)

    @catch(var="slow_error")
    @retry(times=1, minutes_between_retries=0)
    @timeout(seconds=1)
    @step
    def slow(self):
        _start_helper(self.pid_file)
        time.sleep(120)
        self.never = "set"
        self.next(self.end)

    @step
    def end(self):
        # @catch stores Metaflow's wrapper: the caught exception's class name and message are its fields.
        self.outcome = f"{self.slow_error.type.rsplit('.', 1)[-1]}: {self.slow_error.exception}"


class LongStepFlow(Flow):
    """A step that runs until something stops it, well within its timeout."""

    pid_file = Parameter("pid_file", default="")

    @timeout(minutes=10)
    @step
    def start(self):
        _start_helper(self.pid_file)
        time.sleep(120)
        self.next(self.end)

    @step
    def end(self):
        pass


class CrashFlow(Flow):
    """A step whose process exits without committing, with no ``@timeout`` at all."""

    @step
    def start(self):
        os._exit(7)
        self.next(self.end)

    @step
    def end(self):
        pass
