"""Every example flow runs end to end from the command line and produces the artifacts its docstring promises."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.runtime.cli_runner import REPO_ROOT, describe, run_flow_file

EXAMPLES = REPO_ROOT / "examples"


@pytest.mark.e2e
def test_hello(datastore_root: Path) -> None:
    result, run = run_flow_file(EXAMPLES / "hello.py", "--name", "Ada", datastore_root=datastore_root)
    assert result.returncode == 0, describe(result)
    assert run.data.greeting == "Hello, Ada!"
    assert run.data.letters == 8
    assert "'Hello, Ada!' has 8 letters" in run["end"].task.stdout


@pytest.mark.e2e
def test_branch(datastore_root: Path) -> None:
    result, run = run_flow_file(EXAMPLES / "branch.py", "--base", "10", datastore_root=datastore_root)
    assert result.returncode == 0, describe(result)
    assert (run.data.doubled, run.data.squared, run.data.total) == (20, 100, 120)
    assert run.data.label == "base=10", "merge_artifacts carried the artifact both branches agree on"
    assert "result" not in run.data, "the conflicting artifact was excluded from the merge"


@pytest.mark.e2e
def test_digits_grid_search(datastore_root: Path) -> None:
    result, run = run_flow_file(
        EXAMPLES / "digits.py",
        "--max-workers",
        "2",
        "--grid",
        '{"C": [1.0, 10.0], "gamma": [0.001, 0.01]}',
        datastore_root=datastore_root,
        timeout=600,
    )
    assert result.returncode == 0, describe(result)
    assert len(run["train"].tasks) == 4
    assert {tuple(sorted(task.data.setting.items())) for task in run["train"].tasks} == {
        (("C", c), ("gamma", gamma)) for c in (1.0, 10.0) for gamma in (0.001, 0.01)
    }
    assert run.data.best_accuracy == max(score for _, score, _ in run.data.scores)
    assert run.data.best_accuracy > 0.9
    assert run.data.best_model.predict(run.data.x_test[:5]).tolist() == run.data.y_test[:5].tolist()
