"""The client as a notebook uses it: a Jupyter notebook in a subfolder of the project the runs were started in."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

from tests.notebook.test_notebook import kernel_for_this_interpreter
from tests.runtime.cli_runner import REPO_ROOT, describe

FLOWS = Path(__file__).parent / "flows"

NOTEBOOK = """
import json
from datetime import datetime

from flowkit import Flow, Metaflow, default_namespace, get_metadata, get_namespace, namespace

flow = Flow("GenreStatsFlow")
run = flow.latest_successful_run
latest = flow.latest_run
assert isinstance(run.created_at, datetime) and run.created_at.tzinfo is None
assert run.finished_at is not None and run.finished_at.tzinfo is None and run.finished_at >= run.created_at
assert latest.finished_at is None, "a failed run has no finish time"
stats_task = run["compute_statistics"].tasks[1]
steps = [step.id for step in run]
task_starts = [task.created_at for task in run["compute_statistics"].tasks()]
tags_before = sorted(run.user_tags)
run.add_tag("reviewed")
run.remove_tag("nightly")
after_change = sorted(Flow("GenreStatsFlow")[run.id].tags)
mine = [r.id for r in flow.runs()]
namespace(None)
everyone = [r.id for r in Flow("GenreStatsFlow")]
namespace("user:bob")
bobs = Flow("GenreStatsFlow").latest_run.id
default_namespace()
print(json.dumps({
    "genre_stats": run.data.genre_stats,
    "best_genre": run["end"].task["best_genre"].data,
    "latest_successful": run.id,
    "latest": latest.id,
    "latest_successful_via_item": Flow("GenreStatsFlow")[run.id].successful,
    "steps": steps,
    "task_index": stats_task.index,
    "task_genre": stats_task["genre"].data,
    "task_artifact_sha": stats_task["genre"].sha == stats_task.artifacts.genre.sha,
    "task_metadata": {k: stats_task.metadata_dict[k] for k in ("attempt", "attempt_ok", "user")},
    "task_parent": stats_task.parent.id,
    "newest_task_first": task_starts == sorted(task_starts, reverse=True) and len(task_starts) == 3,
    "run_parent": repr(run.parent),
    "code": run.code,
    "tags_before": tags_before,
    "tags_after": after_change,
    "system_tags": sorted(run.system_tags),
    "mine": mine,
    "everyone": everyone,
    "bobs": bobs,
    "namespace": get_namespace(),
    "metadata": get_metadata(),
    "flows": [f.id for f in Metaflow().flows],
    "stdout": stats_task.stdout,
}))
"""


def start(project: Path, *args: str, user: str) -> str:
    """`python genre_stats_flow.py run ...` in the project folder as `user`; returns the run id."""
    environment = {key: value for key, value in os.environ.items() if key != "FLOWKIT_DATASTORE_ROOT"}
    environment.update(FLOWKIT_USER=user, PYTHONPATH=str(REPO_ROOT))
    id_file = project / "run-id"
    result = subprocess.run(
        [sys.executable, "genre_stats_flow.py", "run", *args, "--run-id-file", str(id_file)],
        cwd=project,
        env=environment,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert id_file.exists(), describe(result)
    return id_file.read_text().strip()


@pytest.fixture
def project(tmp_path: Path) -> Path:
    folder = tmp_path / "project"
    (folder / "notebooks").mkdir(parents=True)
    shutil.copy(FLOWS / "genre_stats_flow.py", folder)
    return folder


@pytest.mark.e2e
def test_a_notebook_in_a_subfolder_reads_the_runs_through_metaflow_client_names(
    project: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    good = start(project, "--tag", "nightly", user="alice")
    failed = start(project, "--fail_at_end", "true", user="alice")
    other = start(project, user="bob")

    jupyter_data = tmp_path / "jupyter"
    kernel_name = kernel_for_this_interpreter(jupyter_data)
    monkeypatch.setenv("JUPYTER_PATH", str(jupyter_data / "share" / "jupyter"))
    monkeypatch.setenv("PYTHONPATH", str(REPO_ROOT))
    monkeypatch.setenv("FLOWKIT_USER", "alice")
    monkeypatch.delenv("FLOWKIT_DATASTORE_ROOT", raising=False)  # the notebook must find the project's .flowkit
    notebook = nbformat.v4.new_notebook(
        cells=[nbformat.v4.new_code_cell(textwrap.dedent(NOTEBOOK))],
        metadata={"kernelspec": {"name": kernel_name, "display_name": "flowkit test", "language": "python"}},
    )
    executed = NotebookClient(
        notebook, kernel_name=kernel_name, timeout=180, resources={"metadata": {"path": project / "notebooks"}}
    ).execute()
    printed = "".join(output.get("text", "") for output in executed.cells[0].outputs)
    seen = json.loads(printed.strip().splitlines()[-1])
    assert seen["genre_stats"] == {"comedy": 7.9, "crime": 8.2, "scifi": 8.2}
    assert seen["best_genre"] == "crime"
    assert (seen["latest_successful"], seen["latest"]) == (good, failed)
    assert seen["latest_successful_via_item"] is True
    assert seen["steps"] == ["end", "join", "compute_statistics", "start"], "Metaflow lists steps newest first"
    assert (seen["task_index"], seen["task_genre"], seen["task_artifact_sha"]) == (1, "crime", True)
    assert seen["task_metadata"] == {"attempt": "0", "attempt_ok": "True", "user": "alice"}
    assert seen["task_parent"] == "compute_statistics" and seen["newest_task_first"] is True
    assert seen["run_parent"] == "Flow('GenreStatsFlow')" and seen["code"] is None
    assert seen["tags_before"] == ["nightly"]
    assert seen["tags_after"] == ["reviewed", "user:alice"]
    assert seen["system_tags"] == ["user:alice"]
    assert seen["mine"] == [failed, good], "the default namespace is this user's runs, newest first"
    assert seen["everyone"] == [other, failed, good]
    assert seen["bobs"] == other
    assert seen["namespace"] == "user:alice"
    assert seen["metadata"] == f"local@{project / '.flowkit'}"
    assert seen["flows"] == ["GenreStatsFlow"]
    assert seen["stdout"] == "crime: 8.2\n"
