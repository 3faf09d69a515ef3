"""@catch + @timeout on Argo: the pod kills its overdue task, records the timeout, and the caught run goes on.

Argo's activeDeadlineSeconds (the timeout plus a grace period) would kill the whole pod and leave no record; the
task process enforcing the timeout itself is what lets @catch and retries behave as in a local run.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from flowkit.client import Run
from flowkit.task.cli import load_flow_class
from tests.argo import watchdog_flows
from tests.argo.test_e2e import emulate

pytestmark = pytest.mark.e2e


def test_a_caught_timeout_reaches_the_end_step_with_the_exception(tmp_path: Path) -> None:
    flow_cls = load_flow_class(f"{watchdog_flows.__file__}:CaughtTimeoutFlow")
    emulated, pvc = emulate(flow_cls, tmp_path)
    run = Run(f"CaughtTimeoutFlow/{emulated.workflow_name}", datastore_root=pvc)
    assert run.data.outcome.startswith(f"TaskFailedError: CaughtTimeoutFlow/{run.id}/slow/0: timed out after 1 seconds")
    assert run.data.before == "kept"
    (slow,) = run["slow"].tasks
    assert slow.successful
    local = flow_cls.run(datastore_root=tmp_path / "local")
    assert local.data.outcome.replace(local.id, run.id) == run.data.outcome, "the same outcome as a local run"
