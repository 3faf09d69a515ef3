"""The conda example end to end: its lockfile, its image build context and tag, and its compiled workflow."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
import yaml

from flowkit.cli.main import load_flow_class
from flowkit.environments.declaration import environment_targets
from flowkit.environments.lockfile import read_lockfile, render_environment
from flowkit.environments.materialize import ENVIRONMENT_DIR
from flowkit.environments.materialize_script import EXPLICIT_FILE, PIP_FILE
from flowkit.packaging.bootstrap import bootstrap_config_map_name
from tests.argo.test_size import COMMAND_BUDGET, command_bytes
from tests.environments.test_dockerfile import hadolint
from tests.runtime.cli_runner import flow_command_in_process
from tests.support.argo_schema import validate_kubernetes_object, validate_manifest

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "conda_env"


@pytest.fixture(scope="module")
def example_flow() -> type:
    return load_flow_class(str(EXAMPLE / "flow.py"))


@pytest.fixture(scope="module")
def linux_env_id(example_flow: type) -> str:
    (target,) = environment_targets(example_flow)
    lockfile = read_lockfile(target.lockfile_path)
    return render_environment(lockfile, "linux-64", flow="CondaEnvFlow", step="start").env_id


def example_command(*arguments: str, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    """`python examples/conda_env/flow.py *arguments`, run in this process (these commands only read and print)."""
    return flow_command_in_process(EXAMPLE / "flow.py", *arguments, datastore_root=tmp_path / "datastore")


def test_the_committed_lockfile_matches_the_declaration(tmp_path: Path) -> None:
    checked = example_command("env", "check", tmp_path=tmp_path)
    assert (checked.returncode, checked.stdout) == (0, "conda-lock.yml: up to date\n"), checked.stderr


def test_image_context_is_hadolint_clean_and_tagged_by_the_environment_id(linux_env_id: str, tmp_path: Path) -> None:
    context = tmp_path / "context"
    built = example_command("image", "--output-dir", str(context), tmp_path=tmp_path)
    assert built.returncode == 0, built.stderr
    assert built.stdout == f"ghcr.io/example/flowkit-env:{linux_env_id}\n"
    assert f"docker build --tag ghcr.io/example/flowkit-env:{linux_env_id} {context}" in built.stderr
    assert hadolint(context / "Dockerfile").returncode == 0
    assert "/linux-64/numpy-1.26.4-" in (context / "conda-explicit.txt").read_text()
    assert (context / "pip-requirements.txt").read_text().startswith("humanize @ https://")


def test_compiled_pods_use_the_image_or_materialize_on_the_pvc(linux_env_id: str, tmp_path: Path) -> None:
    compiled = example_command("argo-create", "--only-yaml", tmp_path=tmp_path)
    assert compiled.returncode == 0, compiled.stderr
    bootstrap, environment, workflow = yaml.safe_load_all(compiled.stdout)  # created in this order
    validate_manifest(workflow)
    for config_map in (bootstrap, environment):
        validate_kubernetes_object(config_map)
    containers = {t["name"]: t for t in workflow["spec"]["templates"] if "container" in t}
    image_pods = [t for t in containers.values() if t["container"]["image"].startswith("ghcr.io/example/")]
    pvc_pods = [t for t in containers.values() if t["container"]["command"][:1] == ["python3"]]
    assert image_pods and len(pvc_pods) == 1
    for template in image_pods:
        assert template["container"]["image"] == f"ghcr.io/example/flowkit-env:{linux_env_id}"
    (pvc_pod,) = pvc_pods
    command = pvc_pod["container"]["command"]
    assert command[1] == "/flowkit-bootstrap/materialize.py"  # a file of the bootstrap ConfigMap
    assert bootstrap["metadata"]["name"] == bootstrap_config_map_name()
    assert command[command.index("--env-id") + 1] == linux_env_id
    assert command[command.index("--files-dir") + 1] == ENVIRONMENT_DIR
    rendered = render_environment(read_lockfile(EXAMPLE / "conda-lock.yml"), "linux-64", flow="F", step="s")
    assert environment["data"] == {EXPLICIT_FILE: rendered.conda_explicit, PIP_FILE: rendered.pip_requirements}
    mounts = {mount["name"]: mount for mount in pvc_pod["container"]["volumeMounts"]}
    env_mount = mounts[environment["metadata"]["name"]]
    assert (env_mount["mountPath"], env_mount["readOnly"]) == (ENVIRONMENT_DIR, True)
    assert max(command_bytes(template) for template in containers.values()) < COMMAND_BUDGET
    assert command[command.index("--envs-dir") + 1] == "/flowkit/envs"
    assert command[command.index("--") + 1].startswith("python")  # the task bootstrap, run with the env's python
    for template in containers.values():
        assert template["metadata"]["annotations"]["flowkit.io/environment-id"] == linux_env_id
        assert template["metadata"]["labels"]["flowkit.io/environment-id"] == linux_env_id[:16]
        env = {item["name"]: item.get("value") for item in template["container"].get("env", [])}
        # A PVC pod's materializer exports the id it verified (the end-to-end test sees the tasks record it).
        assert env.get("FLOWKIT_ENVIRONMENT_ID") == (None if template is pvc_pod else linux_env_id)
