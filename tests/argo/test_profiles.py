"""Cluster profiles: defaults from FLOWKIT_* variables and the configuration file, below the flow's decorators."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

import flowkit
from flowkit.cli.main import build_cli
from flowkit.deploy.api import upload_pod_spec
from flowkit.errors import FlowkitError
from flowkit.settings import CLUSTER_SETTINGS, CONFIG, PROFILE
from tests.argo.conftest import compile_manifests, pod_volumes, step_tasks
from tests.argo.flows import IMAGE, OperatedFlow


@pytest.fixture(autouse=True)
def no_cluster_settings(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Each test starts from the built-in defaults: no variable set, no configuration file."""
    for setting in (*CLUSTER_SETTINGS, PROFILE):
        monkeypatch.delenv(setting.env_var, raising=False)
    monkeypatch.setenv(CONFIG.env_var, str(tmp_path / "no-config.json"))


def _config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, content: dict) -> Path:
    path = tmp_path / "config.json"
    path.write_text(json.dumps(content))
    monkeypatch.setenv(CONFIG.env_var, str(path))
    return path


class ProfiledFlow(flowkit.Flow):
    """No class-level image: the profile provides it; `big` sets its own CPU and image."""

    @flowkit.step
    def start(self):
        self.next(self.big)

    @flowkit.kubernetes(cpu="8", image="registry.example.com/big:1")
    @flowkit.step
    def big(self):
        self.next(self.end)

    @flowkit.step
    def end(self):
        pass


def _pods(flow_cls: type) -> dict[str, dict]:
    return {step: template for step, _, template in step_tasks(compile_manifests(flow_cls)[0])}


def test_step_decorator_beats_class_decorator_beats_profile_beats_built_in(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _config(
        tmp_path,
        monkeypatch,
        {
            "image": "registry.example.com/base:2",
            "cpu": "2",
            "datastore_claim": "team-datastore",
            "tolerations": [{"key": "dedicated", "operator": "Equal", "value": "ml", "effect": "NoSchedule"}],
        },
    )
    monkeypatch.setenv("FLOWKIT_MEMORY", "6Gi")  # the environment beats the file
    monkeypatch.setenv("FLOWKIT_IMAGE_PULL_SECRETS", "regcred, mirror")
    pods = _pods(ProfiledFlow)
    manifest = compile_manifests(ProfiledFlow)[0]
    spec = manifest["spec"]

    assert pods["start"]["container"]["image"] == "registry.example.com/base:2"  # profile
    assert pods["big"]["container"]["image"] == "registry.example.com/big:1"  # step decorator
    assert pods["start"]["container"]["resources"]["requests"] == {"cpu": "2", "memory": "6Gi"}
    assert pods["big"]["container"]["resources"]["requests"]["cpu"] == "8"
    assert pods["start"]["tolerations"] == [
        {"key": "dedicated", "operator": "Equal", "value": "ml", "effect": "NoSchedule"}
    ]
    claims = {
        volume["persistentVolumeClaim"]["claimName"]
        for volume in pod_volumes(manifest, pods["start"]).values()
        if "persistentVolumeClaim" in volume
    }
    assert claims == {"team-datastore"}
    assert spec["imagePullSecrets"] == [{"name": "regcred"}, {"name": "mirror"}]

    # A class decorator wins over the profile: OperatedFlow names its image, CPU and service account itself.
    monkeypatch.setenv("FLOWKIT_SERVICE_ACCOUNT", "from-profile")
    operated = _pods(OperatedFlow)
    assert {template["container"]["image"] for template in operated.values()} == {IMAGE}
    assert operated["start"]["container"]["resources"]["requests"]["cpu"] == "1500m"
    assert compile_manifests(OperatedFlow)[0]["spec"]["serviceAccountName"] == "flowkit-runner"
    assert compile_manifests(ProfiledFlow)[0]["spec"]["serviceAccountName"] == "from-profile"


def test_a_named_profile_of_the_file_applies_over_its_top_level(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _config(
        tmp_path,
        monkeypatch,
        {
            "image": "base:1",
            "namespace": "dev",
            "profiles": {
                "prod": {"namespace": "prod", "upload_image": "mirror/busybox:1", "image_pull_secrets": ["regcred"]}
            },
        },
    )
    monkeypatch.setenv("FLOWKIT_PROFILE", "prod")
    manifest = compile_manifests(ProfiledFlow)[0]
    assert manifest["metadata"]["namespace"] == "prod"
    assert manifest["spec"]["imagePullSecrets"] == [{"name": "regcred"}]  # a JSON list, as @argo takes one
    assert _pods(ProfiledFlow)["start"]["container"]["image"] == "base:1"
    assert upload_pod_spec(ProfiledFlow).image == "mirror/busybox:1"

    monkeypatch.setenv("FLOWKIT_PROFILE", "staging")
    with pytest.raises(FlowkitError, match="has no profile 'staging'"):
        compile_manifests(ProfiledFlow)


def test_a_bad_configuration_file_is_named(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = _config(tmp_path, monkeypatch, {"imgae": "typo:1"})
    with pytest.raises(FlowkitError, match=rf"{path}: unknown settings \['imgae'\]"):
        compile_manifests(ProfiledFlow)


def test_show_says_where_each_value_came_from(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = _config(tmp_path, monkeypatch, {"image": "registry.example.com/base:2"})
    monkeypatch.setenv("FLOWKIT_CPU", "3")
    result = CliRunner().invoke(build_cli(ProfiledFlow), ["show"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    output = result.output
    start = output[output.index("start --linear") : output.index("big --linear")]
    big = output[output.index("big --linear") : output.index("\nend")]
    cluster = output[output.index("flow-wide on Argo") :]
    assert f"image: registry.example.com/base:2  [profile: configuration file {path}]" in start
    assert "cpu: 3  [profile: environment ($FLOWKIT_CPU)]" in start
    assert "memory: 4Gi  [built-in default]" in start
    assert "image: registry.example.com/big:1  [step decorator @kubernetes]" in big
    assert "cpu: 8  [step decorator @kubernetes]" in big
    assert "datastore_claim: flowkit-datastore  [built-in default]" in cluster
