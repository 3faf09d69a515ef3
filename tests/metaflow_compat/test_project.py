"""`@project`: the branch a run or a deployment belongs to, in `current`, in the run's tags and in the template name."""

from __future__ import annotations

from pathlib import Path

import pytest

from flowkit.authoring.run_context import RunContext, start_context
from flowkit.compiler.compiler import deployment_target
from flowkit.datastore import DataStore
from flowkit.errors import FlowDefinitionError
from tests.runtime.cli_runner import describe, flow_command

FLOWS = Path(__file__).parent / "flows"
PROJECT_FLOW = FLOWS / "project_flow.py"


def run_project_flow(datastore_root: Path, *top_level: str) -> tuple[str, dict[str, object]]:
    """Run the flow with top-level options (`--branch x`, `--production`) as user alice; its run id and end data."""
    from flowkit.client import Run

    run_id_file = datastore_root.parent / "run-id"
    result = flow_command(
        PROJECT_FLOW,
        *top_level,
        "run",
        "--run-id-file",
        str(run_id_file),
        datastore_root=datastore_root,
        env={"FLOWKIT_USER": "alice"},
    )
    assert result.returncode == 0, describe(result)
    run = Run(f"ProjectStatsFlow/{run_id_file.read_text().strip()}", datastore_root=datastore_root)
    names = ("seen_in_start", "who", "project", "branch", "production", "user_branch", "full_name", "table")
    return run.id, {name: getattr(run.data, name) for name in names}


@pytest.mark.parametrize(
    ("options", "branch", "production"),
    [
        ((), "user.alice", False),
        (("--branch", "better_version"), "test.better_version", False),
        (("--production",), "prod", True),
        (("--production", "--branch", "variant"), "prod.variant", True),
    ],
)
def test_current_names_the_project_and_the_branch_chosen_on_the_command_line(
    datastore_root: Path, options: tuple[str, ...], branch: str, production: bool
) -> None:
    run_id, data = run_project_flow(datastore_root, *options)
    assert data == {
        "seen_in_start": branch,
        "who": ("alice", "user:alice", sorted(["user:alice", "project:movie_stats", f"project_branch:{branch}"])),
        "project": "movie_stats",
        "branch": branch,
        "production": production,
        "user_branch": branch.startswith("user."),
        "full_name": f"movie_stats.{branch}.ProjectStatsFlow",
        "table": "stats" if production else f"stats_{branch.replace('.', '_')}",
    }
    record = DataStore(datastore_root).read_run("ProjectStatsFlow", run_id)
    assert record is not None
    assert record.system_tags == ["user:alice", "project:movie_stats", f"project_branch:{branch}"]


def test_a_bad_branch_name_is_refused_before_anything_runs(datastore_root: Path) -> None:
    result = flow_command(PROJECT_FLOW, "--branch", "Bad-Name", "run", datastore_root=datastore_root)
    assert result.returncode == 1
    assert "ProjectStatsFlow @project.branch" in result.stderr and "lowercase letters" in result.stderr
    assert not (datastore_root / "runs").exists()


def load_project_flow() -> type:
    from flowkit.cli.main import load_flow_class

    return load_flow_class(str(PROJECT_FLOW))


@pytest.mark.parametrize(
    ("user", "branch", "production", "template"),
    [
        ("alice", None, False, "movie-stats.user.alice.projectstatsflow"),
        ("bob_smith@example.com", None, False, "movie-stats.user.bob-smithexample.com.projectstatsflow"),
        ("alice", "better_version", False, "movie-stats.test.better-version.projectstatsflow"),
        ("alice", None, True, "movie-stats.prod.projectstatsflow"),
    ],
)
def test_the_template_is_named_after_project_branch_and_flow_as_metaflow_names_it(
    monkeypatch: pytest.MonkeyPatch, user: str, branch: str | None, production: bool, template: str
) -> None:
    monkeypatch.setenv("FLOWKIT_USER", user)
    flow_cls = load_project_flow()
    context = start_context(flow_cls, branch=branch, production=production)
    assert deployment_target(flow_cls, context=context)[0] == template


def test_a_long_project_template_name_is_cut_to_a_label_with_a_hash() -> None:
    flow_cls = load_project_flow()
    first = deployment_target(flow_cls, context=RunContext(user="x", project_branch="test." + "a" * 80))[0]
    second = deployment_target(flow_cls, context=RunContext(user="x", project_branch="test." + "a" * 81))[0]
    assert len(first) <= 63 and len(second) <= 63 and first != second
    assert first.startswith("movie-stats.test.aaa")


def test_a_project_flow_refuses_an_explicit_template_name() -> None:
    with pytest.raises(FlowDefinitionError, match="choose the branch with --branch"):
        deployment_target(load_project_flow(), name="my-template")


def test_every_pod_of_the_deployed_branch_runs_on_that_branch(monkeypatch: pytest.MonkeyPatch) -> None:
    from flowkit.compiler.render import to_dicts

    monkeypatch.setenv("FLOWKIT_USER", "alice")
    flow_cls = load_project_flow()
    manifests = flow_cls.to_argo(context=start_context(flow_cls, branch="feature"))
    (template,) = to_dicts(manifests)
    assert template["metadata"]["name"] == "movie-stats.test.feature.projectstatsflow"
    containers = [t["container"] for t in template["spec"]["templates"] if "container" in t]
    assert containers
    for container in containers:
        env = {item["name"]: item["value"] for item in container["env"]}
        assert env["FLOWKIT_PROJECT_BRANCH"] == "test.feature" and env["FLOWKIT_USER"] == "alice"
