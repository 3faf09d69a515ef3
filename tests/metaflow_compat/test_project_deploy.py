"""`argo-workflows create|trigger|list-runs|delete` of a `@project` flow all address the branch's own template."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from flowkit.cli.main import build_cli, load_flow_class
from tests.support.fake_kube import FakeKube

FLOWS = Path(__file__).parent / "flows"


@pytest.fixture
def kube(tmp_path: Path) -> Iterator[FakeKube]:
    with FakeKube(tmp_path / "cluster") as server:
        yield server


def test_each_branch_deploys_and_triggers_its_own_template(
    kube: FakeKube, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FLOWKIT_USER", "alice")
    flow_cls = load_flow_class(str(FLOWS / "project_flow.py"))
    cluster = ["--kubeconfig", str(kube.write_kubeconfig(tmp_path / "kubeconfig"))]
    package = ["--project-root", str(FLOWS), "--package-dir", str(kube.pvc_dir("flowkit-datastore"))]

    def invoke(*args: str) -> str:
        result = CliRunner().invoke(build_cli(flow_cls), list(args), catch_exceptions=False)
        assert result.exit_code == 0, result.output
        return result.output

    invoke("argo-workflows", "create", *cluster, *package)
    invoke("--branch", "feature", "argo-workflows", "create", *cluster, *package)
    invoke("--production", "argo-workflows", "create", *cluster, *package)
    for template in ("user.alice", "test.feature", "prod"):
        assert kube.exists("workflowtemplates", f"movie-stats.{template}.projectstatsflow")

    name = invoke("--branch", "feature", "argo-workflows", "trigger", *cluster).strip()
    workflow = kube.stored("workflows", name)
    assert workflow["spec"]["workflowTemplateRef"] == {"name": "movie-stats.test.feature.projectstatsflow"}
    assert name in invoke("--branch", "feature", "argo-workflows", "list-runs", *cluster)
    assert name not in invoke("argo-workflows", "list-runs", *cluster)

    invoke("--branch", "feature", "argo-workflows", "delete", *cluster)
    assert not kube.exists("workflowtemplates", "movie-stats.test.feature.projectstatsflow")
    assert kube.exists("workflowtemplates", "movie-stats.prod.projectstatsflow")
