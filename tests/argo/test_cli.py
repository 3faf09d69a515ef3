"""The argo-* commands, against a local server that answers the Kubernetes API (real client, real HTTP)."""

from __future__ import annotations

import gzip
import hashlib
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from flowkit.cli.main import build_cli, load_flow_class
from flowkit.environments.lockfile import read_lockfile, render_environment
from flowkit.environments.materialize import environment_files
from flowkit.packaging.bootstrap import SCRIPT_PATH, bootstrap_config_map_name, bootstrap_files
from tests.argo.conftest import EXAMPLES, pod_volumes
from tests.argo.flows import LinearFlow, OperatedFlow
from tests.support.argo_schema import validate_kubernetes_object, validate_manifest
from tests.support.fake_kube import FakeKube


@pytest.fixture
def kube(tmp_path: Path) -> Iterator[FakeKube]:
    with FakeKube(tmp_path / "cluster") as server:
        yield server


@pytest.fixture
def kubeconfig(kube: FakeKube, tmp_path: Path) -> list[str]:
    """The --kubeconfig option pointing at this test's own fake server."""
    return ["--kubeconfig", str(kube.write_kubeconfig(tmp_path / "kubeconfig"))]


# The flows' own directory as the package root keeps the repository's virtualenv out of the package.
PROJECT = ["--project-root", str(Path(__file__).parent)]


def invoke(flow_cls: type, *args: str) -> str:
    result = CliRunner().invoke(build_cli(flow_cls), list(args), catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


def test_only_yaml_prints_every_manifest_and_contacts_no_cluster(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KUBECONFIG", str(tmp_path / "does-not-exist"))
    output = invoke(OperatedFlow, "argo-create", *PROJECT, "--only-yaml", "--name", "nightly")
    assert output.startswith("---")
    documents = list(yaml.safe_load_all(output))
    assert [document["kind"] for document in documents] == ["ConfigMap", "WorkflowTemplate", "CronWorkflow"]
    config_map, template, _ = documents
    assert template["metadata"]["name"] == "nightly"
    # The ConfigMap is the one every pod mounts, and holds the bootstrap itself.
    assert config_map["data"]["bootstrap.py"] == SCRIPT_PATH.read_text(encoding="utf-8")
    container = next(t for t in template["spec"]["templates"] if "container" in t)
    mounted = {
        volume["configMap"]["name"] for volume in pod_volumes(template, container).values() if "configMap" in volume
    }
    assert mounted == {config_map["metadata"]["name"]}
    validate_kubernetes_object(config_map)
    for document in documents[1:]:
        validate_manifest(document)


def test_create_uploads_the_package_applies_the_template_then_updates_it(kube: FakeKube, kubeconfig: list[str]) -> None:
    output = invoke(LinearFlow, "argo-create", *kubeconfig, *PROJECT)
    assert "Created WorkflowTemplate linear-flow" in output
    stored = kube.stored("workflowtemplates", "linear-flow")
    command = stored["spec"]["templates"][0]["container"]["command"]
    archive = command[command.index("--archive") + 1]
    payload = command[command.index("--payload") + 1]
    pvc = kube.pvc_dir("flowkit-datastore")
    assert (pvc / archive).is_file() and (pvc / payload).is_file()
    bootstrap = bootstrap_config_map_name()
    assert f"Created ConfigMap {bootstrap}" in output
    assert kube.stored("configmaps", bootstrap)["data"] == bootstrap_files().files
    created = [r.path.rsplit("/", 1)[-1] for r in kube.requests if r.method == "POST" and "dryRun" not in r.query]
    assert created.index("configmaps") < created.index("workflowtemplates")  # no run can start without it

    again = invoke(LinearFlow, "argo-create", *kubeconfig, *PROJECT)
    assert "Updated WorkflowTemplate linear-flow" in again
    assert "ConfigMap" not in again  # the identical one is kept


def test_create_of_a_flow_with_a_pvc_environment_creates_its_explicit_files_config_map(
    kube: FakeKube, kubeconfig: list[str]
) -> None:
    example = EXAMPLES / "conda_env"
    flow_cls = load_flow_class(str(example / "flow.py"))
    output = invoke(flow_cls, "argo-create", *kubeconfig, "--project-root", str(example))
    rendered = render_environment(read_lockfile(example / "conda-lock.yml"), "linux-64", flow="F", step="s")
    files = environment_files(rendered)
    assert f"Created ConfigMap {files.name}" in output
    stored = kube.stored("configmaps", files.name)
    assert stored["data"] == files.files
    assert stored["metadata"]["labels"]["app.kubernetes.io/component"] == "environment"
    created = [r.path.rsplit("/", 1)[-1] for r in kube.requests if r.method == "POST" and "dryRun" not in r.query]
    assert created.count("configmaps") == 2 and created.index("workflowtemplates") > 1  # both before the template
    template = kube.stored("workflowtemplates", "conda-env-flow")
    mounting = [t for t in template["spec"]["templates"] if "container" in t and files.name in json.dumps(t)]
    assert [t["container"]["command"][1] for t in mounting] == ["/flowkit-bootstrap/materialize.py"]


def test_create_with_package_dir_writes_the_package_there(
    kube: FakeKube, kubeconfig: list[str], tmp_path: Path
) -> None:
    mount = tmp_path / "pvc-mount"
    invoke(LinearFlow, "argo-create", *kubeconfig, *PROJECT, "--package-dir", str(mount), "--namespace", "default")
    command = kube.stored("workflowtemplates", "linear-flow")["spec"]["templates"][0]["container"]["command"]
    assert (mount / command[command.index("--archive") + 1]).is_file()
    assert not any(request.path.endswith("/pods") for request in kube.requests)


def test_an_invalid_name_fails_before_any_request(kube: FakeKube, kubeconfig: list[str]) -> None:
    result = CliRunner().invoke(build_cli(LinearFlow), ["argo-create", *kubeconfig, "--name", "Bad_Name"])
    assert result.exit_code != 0
    assert "not a valid Kubernetes name" in str(result.exception)
    assert kube.requests == []


def test_trigger_passes_parameters_as_json_text_and_list_runs_shows_it(kube: FakeKube, kubeconfig: list[str]) -> None:
    invoke(LinearFlow, "argo-create", *kubeconfig, *PROJECT, "--package-dir", str(kube.pvc_dir("flowkit-datastore")))
    name = invoke(
        LinearFlow, "argo-trigger", *kubeconfig, "--text", 'say "hi"\né', "--config", '{"a": [1, null]}'
    ).strip()
    workflow = kube.stored("workflows", name)
    assert workflow["spec"]["workflowTemplateRef"] == {"name": "linear-flow"}
    values = {parameter["name"]: parameter["value"] for parameter in workflow["spec"]["arguments"]["parameters"]}
    assert json.loads(values["text"]) == 'say "hi"\né'
    assert json.loads(values["config"]) == {"a": [1, None]}
    assert "number" not in values  # not given: the template's default applies
    assert name in invoke(LinearFlow, "argo-list-runs", *kubeconfig)


def test_delete_removes_template_and_cron(kube: FakeKube, kubeconfig: list[str]) -> None:
    invoke(OperatedFlow, "argo-create", *kubeconfig, *PROJECT, "--package-dir", str(kube.pvc_dir("flowkit-datastore")))
    assert kube.exists("cronworkflows", "operated-flow")
    assert "and its CronWorkflow" in invoke(OperatedFlow, "argo-delete", *kubeconfig)
    assert not kube.exists("workflowtemplates", "operated-flow")
    assert not kube.exists("cronworkflows", "operated-flow")


def test_to_argo_returns_hera_objects_users_can_extend() -> None:
    from hera.workflows import WorkflowTemplate

    from flowkit.compiler.render import to_dicts

    manifests = OperatedFlow.to_argo(project_root=Path(__file__).parent)
    assert isinstance(manifests.workflow_template, WorkflowTemplate)
    manifests.workflow_template.parallelism = 11
    template, cron = to_dicts(manifests)
    assert template["spec"]["parallelism"] == 11
    assert cron["kind"] == "CronWorkflow"


def test_trigger_from_python_encodes_values_and_rejects_unknown_parameters(kube: FakeKube, tmp_path: Path) -> None:
    from flowkit.deploy.api import Cluster, argo_trigger
    from flowkit.errors import ParameterError

    cluster = Cluster(kubeconfig=str(kube.write_kubeconfig(tmp_path / "kubeconfig")))
    LinearFlow.argo_create(cluster=cluster, project_root=Path(__file__).parent,
                           package_dir=kube.pvc_dir("flowkit-datastore"))  # fmt: skip
    name = argo_trigger(LinearFlow, {"nothing": None, "number": 5}, cluster=cluster)
    values = {p["name"]: p["value"] for p in kube.stored("workflows", name)["spec"]["arguments"]["parameters"]}
    assert values == {"nothing": "null", "number": "5"}
    requests_before = len(kube.requests)
    with pytest.raises(ParameterError, match="'missing'"):
        LinearFlow.argo_trigger(missing=1)
    assert len(kube.requests) == requests_before


def _bootstrap_option(document: dict, option: str) -> str:
    command = document["spec"]["templates"][0]["container"]["command"]
    return command[command.index(option) + 1]


def test_only_yaml_with_package_dir_publishes_and_references_what_it_published(tmp_path: Path) -> None:
    """For GitOps: the package goes to a directory synced to (or mounted from) the claim, the YAML to kubectl."""
    mount = tmp_path / "claim"
    output = invoke(LinearFlow, "argo-create", *PROJECT, "--only-yaml", "--package-dir", str(mount))
    _, template = yaml.safe_load_all(output)
    archive = mount / _bootstrap_option(template, "--archive")
    payload = mount / _bootstrap_option(template, "--payload")
    assert hashlib.sha256(archive.read_bytes()).hexdigest() == _bootstrap_option(template, "--archive-sha256")
    assert hashlib.sha256(payload.read_bytes()).hexdigest() == _bootstrap_option(template, "--payload-sha256")

    # An archive of the same package already there (another build's compressed bytes) is what the YAML names.
    earlier = gzip.compress(gzip.decompress(archive.read_bytes()), compresslevel=1, mtime=0)
    archive.write_bytes(earlier)
    _, again = yaml.safe_load_all(
        invoke(LinearFlow, "argo-create", *PROJECT, "--only-yaml", "--package-dir", str(mount))
    )
    assert _bootstrap_option(again, "--archive-sha256") == hashlib.sha256(earlier).hexdigest()


def test_only_yaml_refuses_options_it_would_ignore(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        build_cli(LinearFlow), ["argo-create", *PROJECT, "--only-yaml", "--kubeconfig", str(tmp_path / "kubeconfig")]
    )
    assert result.exit_code == 2
    assert "--kubeconfig would be ignored: --only-yaml contacts no cluster" in result.output
