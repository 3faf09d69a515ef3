"""The Metaflow-style flows deployed to Argo: run in the emulator, they end with the artifacts of a local run, and a
`@project` flow's pods know the branch it was deployed on."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from flowkit.authoring.run_context import start_context
from flowkit.cli.attach import attached_decorators
from flowkit.cli.main import load_flow_class
from flowkit.client import Flow, Run
from tests.argo.test_e2e import emulate

FLOWS = Path(__file__).parent / "flows"

pytestmark = pytest.mark.e2e


def test_a_project_flow_runs_on_the_branch_it_was_deployed_on(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FLOWKIT_USER", "alice")
    flow_cls = load_flow_class(str(FLOWS / "project_flow.py"))
    context = start_context(flow_cls, branch="nightly", tags=["deployed"])
    emulated, pvc = emulate(flow_cls, tmp_path, context=context)
    run = Run(f"ProjectStatsFlow/{emulated.workflow_name}", datastore_root=pvc)
    assert (run.data.branch, run.data.full_name) == ("test.nightly", "movie_stats.test.nightly.ProjectStatsFlow")
    assert run.tags == {"deployed", "user:alice", "project:movie_stats", "project_branch:test.nightly"}
    assert Flow("ProjectStatsFlow", datastore_root=pvc).latest_successful_run.id == run.id
    code = run.code  # the code package the pods ran
    assert code is not None and code.info["flow_name"] == "ProjectStatsFlow"
    assert code.flowspec is not None and "class ProjectStatsFlow(FlowSpec):" in code.flowspec


def test_parameter_kinds_and_configs_reach_the_pods(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    project = tmp_path / "project"
    project.mkdir()
    for name in ("parameters_flow.py", "movies.csv", "config_flow.py", "train_config.json"):
        shutil.copy(FLOWS / name, project / name)
    monkeypatch.chdir(project)  # where the flows are defined, so their default files are read
    for flow_file, checked in (("parameters_flow.py", "summary"), ("config_flow.py", "summary")):
        flow_cls = load_flow_class(str(project / flow_file))
        with attached_decorators(flow_cls, ["kubernetes:image=python:3.12-slim"]):  # as `--with` would
            emulated, pvc = emulate(flow_cls, tmp_path / flow_file, project_root=project)
        argo_run = Run(f"{flow_cls.__name__}/{emulated.workflow_name}", datastore_root=pvc)
        local_run = flow_cls.run(datastore_root=tmp_path / "local")
        assert getattr(argo_run.data, checked) == getattr(local_run.data, checked)
        assert argo_run.parameters == local_run.parameters
