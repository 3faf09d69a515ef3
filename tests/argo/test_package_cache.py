"""`@argo(package_cache=...)`: where pods extract the code package, so a wide foreach does not unpack it per pod."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from flowkit.errors import FlowDefinitionError
from flowkit.packaging.bootstrap import BOOTSTRAP_DIR, BOOTSTRAP_FILE
from flowkit.packaging.bootstrap_script import BootstrapOptions, parse_arguments
from tests.argo.conftest import Manifest, compile_manifests, container_templates, load_flow_source, pod_volumes
from tests.argo.test_e2e import assert_same_as_local_run
from tests.support.argo_schema import validate_manifest

FAN_OUT = """
from flowkit import Flow, argo, kubernetes, step


@argo({options})
@kubernetes(image="img:1")
class CachedFlow(Flow):
    @step
    def start(self):
        self.items = [1, 2, 3, 4]
        self.next(self.square, foreach="items")

    @step
    def square(self):
        self.value = self.input * self.input
        self.next(self.join)

    @step
    def join(self, inputs):
        self.total = sum(task.value for task in inputs)
        self.next(self.end)

    @step
    def end(self):
        pass
"""


def _flow(directory: Path, options: str = "") -> type:
    directory.mkdir(parents=True, exist_ok=True)
    return load_flow_source(directory, FAN_OUT.format(options=options), "CachedFlow")


def _bootstrap_options(template: Manifest) -> BootstrapOptions:
    """The bootstrap's own options, parsed as the bootstrap parses them: the words after the mounted script's path
    (whichever interpreter command starts it), up to the task's arguments."""
    command = [*template["container"]["command"], *template["container"].get("args", [])]
    script = command.index(f"{BOOTSTRAP_DIR}/{BOOTSTRAP_FILE}")
    options, _task_argv = parse_arguments(command[script + 1 :])
    return options


def _pods(flow_cls: type) -> list[Manifest]:
    """Every container template, with the volumes its pods get (its own and the workflow's it mounts)."""
    (manifest,) = compile_manifests(flow_cls)
    validate_manifest(manifest)
    return [
        {**template, "volumes": list(pod_volumes(manifest, template).values())}
        for template in container_templates(manifest).values()
    ]


def _cache_volume(template: Manifest) -> tuple[dict | None, str | None]:
    volume = next((v for v in template.get("volumes", []) if v["name"] == "flowkit-package-cache"), None)
    mounts = template["container"]["volumeMounts"]
    mount = next((m["mountPath"] for m in mounts if m["name"] == "flowkit-package-cache"), None)
    return volume, mount


def test_by_default_every_pod_caches_the_extraction_on_the_datastore_claim(tmp_path: Path) -> None:
    for template in _pods(_flow(tmp_path)):
        assert _bootstrap_options(template).cache_dir == "/flowkit/packages/extracted"
        assert _cache_volume(template) == (None, None)


def test_the_volume_cache_follows_the_datastore_mount(tmp_path: Path) -> None:
    for template in _pods(_flow(tmp_path, 'datastore_mount="/data/store"')):
        assert _bootstrap_options(template).cache_dir == "/data/store/packages/extracted"


def test_a_node_cache_is_a_host_path_directory_created_if_missing(tmp_path: Path) -> None:
    pods = _pods(_flow(tmp_path, 'package_cache="node", package_cache_host_path="/mnt/flowkit"'))
    for template in pods:
        assert _bootstrap_options(template).cache_dir == "/flowkit-package-cache"
        volume, mount = _cache_volume(template)
        assert volume == {
            "name": "flowkit-package-cache",
            "hostPath": {"path": "/mnt/flowkit", "type": "DirectoryOrCreate"},
        }
        assert mount == "/flowkit-package-cache"


def test_a_node_cache_has_a_default_host_path(tmp_path: Path) -> None:
    for template in _pods(_flow(tmp_path, 'package_cache="node"')):
        volume, _ = _cache_volume(template)
        assert volume is not None and volume["hostPath"]["path"] == "/var/cache/flowkit/packages"


def test_a_pod_cache_is_an_empty_dir(tmp_path: Path) -> None:
    for template in _pods(_flow(tmp_path, 'package_cache="pod"')):
        assert _bootstrap_options(template).cache_dir == "/flowkit-package-cache"
        assert _cache_volume(template) == ({"name": "flowkit-package-cache", "emptyDir": {}}, "/flowkit-package-cache")


@pytest.mark.parametrize(
    ("options", "field", "message"),
    [
        ('package_cache="disk"', "package_cache", "'disk' is not a package cache: use 'volume'"),
        ('package_cache_host_path="/mnt/x"', "package_cache_host_path", "only applies with package_cache='node'"),
        ('package_cache="node", package_cache_host_path="cache"', "package_cache_host_path", "must be an absolute"),
    ],
)
def test_a_bad_package_cache_names_flow_decorator_and_field(
    options: str, field: str, message: str, tmp_path: Path
) -> None:
    with pytest.raises(FlowDefinitionError, match=message) as error:
        _flow(tmp_path, options)
    assert (error.value.flow, error.value.decorator, error.value.field) == ("CachedFlow", "argo", field)


def test_a_claim_mounted_where_the_package_cache_is_is_refused(tmp_path: Path) -> None:
    source = FAN_OUT.format(options='package_cache="pod"').replace(
        '@kubernetes(image="img:1")', '@kubernetes(image="img:1", pvc={"data": "/flowkit-package-cache"})'
    )
    tmp_path.mkdir(exist_ok=True)
    flow_cls = load_flow_source(tmp_path, source, "CachedFlow")
    with pytest.raises(FlowDefinitionError, match="already uses \\(the code package cache\\)") as error:
        compile_manifests(flow_cls)
    assert (error.value.decorator, error.value.field) == ("kubernetes", "pvc")


def _extractions(directory: Path) -> list[str]:
    """The directories of a package cache: one per extracted package, plus any temporary one left behind (files
    beside them, such as an extraction lock, are not extractions)."""
    return sorted(path.name for path in directory.iterdir() if path.is_dir()) if directory.exists() else []


@pytest.mark.e2e
@pytest.mark.parametrize("mode", ["volume", "node", "pod"])
def test_a_foreach_extracts_the_package_once_into_the_shared_cache(mode: str, tmp_path: Path) -> None:
    flow_cls = _flow(tmp_path / "project", f'package_cache="{mode}", package_cache_host_path="/var/cache/fk"'
                     if mode == "node" else f'package_cache="{mode}"')  # fmt: skip
    _, argo_run = assert_same_as_local_run(flow_cls, tmp_path)
    assert argo_run.data.total == 30 and len(argo_run["square"].tasks) == 4
    (run_record,) = (tmp_path / "pvc" / "runs" / "CachedFlow").glob("*/run.json")
    package_id = json.loads(run_record.read_text())["code_package_id"]
    on_claim = _extractions(tmp_path / "pvc" / "packages" / "extracted")
    on_node = _extractions(tmp_path / "emulator" / "node" / "var" / "cache" / "fk")
    # Seven pods ran; the shared cache holds exactly one extraction and no leftover temporary directory.
    expected = {"volume": (on_claim, on_node), "node": (on_node, on_claim), "pod": ([], on_claim + on_node)}[mode]
    if mode != "pod":
        assert expected[0] == [package_id]
    assert expected[1] == []
    # The per-pod default ($FLOWKIT_PACKAGE_CACHE, which the emulated pods are given) is never used.
    assert not (tmp_path / "package-cache").exists()
