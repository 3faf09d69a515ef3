"""Metaflow's command-line spellings: `argo-workflows create|trigger|delete|list-runs` and `run --tag`."""

from __future__ import annotations

from pathlib import Path

from flowkit.datastore import DataStore
from tests.runtime.cli_runner import describe, flow_command

FLOWS = Path(__file__).parent / "flows"
PROJECT_FLOW = FLOWS / "project_flow.py"


def shape(manifest: str) -> list[tuple[str, str, list[str]]]:
    """Kind, name and template names of each manifest (a ConfigMap has no templates; the pickled class's hash
    differs between interpreters)."""
    import yaml

    return [
        (
            doc["kind"],
            doc["metadata"]["name"],
            [template["name"] for template in doc.get("spec", {}).get("templates", [])],
        )
        for doc in yaml.safe_load_all(manifest)
        if doc
    ]


def test_argo_workflows_create_is_argo_create(datastore_root: Path) -> None:
    env = {"FLOWKIT_USER": "alice"}
    flowkit_spelling = flow_command(
        PROJECT_FLOW, "--branch", "b1", "argo-create", "--only-yaml", datastore_root=datastore_root, env=env
    )
    metaflow_spelling = flow_command(
        PROJECT_FLOW,
        "--branch",
        "b1",
        "argo-workflows",
        "create",
        "--only-yaml",
        datastore_root=datastore_root,
        env=env,
    )
    assert flowkit_spelling.returncode == 0, describe(flowkit_spelling)
    assert shape(metaflow_spelling.stdout) == shape(flowkit_spelling.stdout)
    assert ("WorkflowTemplate", "movie-stats.test.b1.projectstatsflow") in [
        doc[:2] for doc in shape(metaflow_spelling.stdout)
    ]


def test_argo_workflows_lists_metaflow_subcommands_and_takes_the_name_before_them(datastore_root: Path) -> None:
    listing = flow_command(FLOWS / "tagged_flow.py", "argo-workflows", "--help", datastore_root=datastore_root)
    assert listing.returncode == 0, describe(listing)
    for command in ("create", "trigger", "delete", "list-runs"):
        assert f"  {command} " in listing.stdout
    named = flow_command(
        FLOWS / "tagged_flow.py",
        "argo-workflows",
        "--name",
        "custom-name",
        "create",
        "--only-yaml",
        datastore_root=datastore_root,
    )
    assert named.returncode == 0, describe(named)
    assert "  name: custom-name\n" in named.stdout


def test_run_tags_are_recorded_with_the_run(datastore_root: Path) -> None:
    run_id_file = datastore_root.parent / "run-id"
    result = flow_command(
        FLOWS / "tagged_flow.py",
        "run",
        "--tag",
        "nightly",
        "--tag",
        "team:ml",
        "--run-id-file",
        str(run_id_file),
        datastore_root=datastore_root,
        env={"FLOWKIT_USER": "carol"},
    )
    assert result.returncode == 0, describe(result)
    record = DataStore(datastore_root).read_run("TaggedFlow", run_id_file.read_text().strip())
    assert record is not None
    assert record.tags == ["nightly", "team:ml"] and record.system_tags == ["user:carol"]
