"""The short chaos run of the normal suite (``nox -s chaos`` runs hundreds of trials): scheduler and task SIGKILLs
at random moments, resumed to the end, read back exactly, and nothing half-written left once gc has swept."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.chaos.chaos import run_trials


@pytest.mark.e2e
def test_random_kills_then_resume_read_back_exactly(tmp_path: Path) -> None:
    report = run_trials(4, seed=13, root=tmp_path)
    assert report.problems == [] and report.unfinished == 0, report.problems
    assert report.kills >= 2 and report.resumes + report.restarts >= 1, report.line()
    assert report.wrong_reads == 0 and report.leftover_after_gc == 0, report.line()
