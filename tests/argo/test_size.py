"""The manifest grows with the number of distinct pod specs, not with steps or foreach width.

(Timings are measured in benchmarks/argo_compile.py; these tests check the structure that makes them small.)
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from flowkit.cli.main import load_flow_class
from tests.argo.conftest import (
    EXAMPLE_FILES,
    EXAMPLES,
    branched_flow_source,
    compile_manifests,
    container_templates,
    load_flow_source,
)

MIB = 1024 * 1024
KIB = 1024
TEMPLATE_BUDGET = 256 * KIB
"""A WorkflowTemplate of 100 distinct pod specs stays far from Argo's 1 MiB workflow limit and etcd's 1.5 MiB."""
COMMAND_BUDGET = 2 * KIB
"""A pod's command plus args: what every pod (and its ARGO_TEMPLATE copy) carries, and `kubectl describe` shows."""


PVC_ENVIRONMENT = '@conda(file="environment.yml", platforms=["linux-64", "osx-arm64"], materialize="pvc")'
"""Every step in the conda example's environment (its environment.yml and conda-lock.yml beside the flow), built on the
shared volume: the pod spec that carries the most (materializer, environment id, the explicit files' mount)."""


def distinct_pods_flow_source(steps: int, class_decorator: str = "") -> str:
    """A chain of ``steps`` steps, each with its own resources, image and variables: ``steps`` distinct pod specs,
    and flow parameters that the start step's command line passes on. ``class_decorator``: a line put above the
    class, such as `PVC_ENVIRONMENT`."""
    names = ["start", *(f"step_{index:03d}" for index in range(steps - 2)), "end"]
    lines = ["from flowkit import Flow, Parameter, conda, environment, kubernetes, step", "", ""]
    lines += [class_decorator] if class_decorator else []
    lines += ["class DistinctFlow(Flow):"]
    lines += [f'    {name} = Parameter("{name}", default="{name}-value")' for name in ("alpha", "beta", "gamma")]
    for index, name in enumerate(names):
        lines += [
            f'    @kubernetes(image="example.com/trainer:{index}", cpu="{100 + index}m", memory="{index + 1}Gi")',
            f'    @environment(vars={{"STAGE": "{name}", "SHARD_COUNT": "{index}"}})',
            "    @step",
            f"    def {name}(self):",
            f"        self.next(self.{names[index + 1]})" if index + 1 < len(names) else "        pass",
            "",
        ]
    return "\n".join(lines)


def command_bytes(template: dict) -> int:
    """The bytes of a container's command plus args, as the kubelet passes them (NUL-separated)."""
    container = template["container"]
    return len("\0".join([*container["command"], *container.get("args", [])]).encode())


def test_a_thousand_steps_share_one_container_template_and_stay_under_a_mebibyte(tmp_path: Path) -> None:
    flow_cls = load_flow_source(tmp_path, branched_flow_source(1000), "BranchedFlow")
    (manifest,) = compile_manifests(flow_cls)
    by_name = {template["name"]: template for template in manifest["spec"]["templates"]}
    dag_tasks = [task for template in by_name.values() for task in template.get("dag", {}).get("tasks", [])]
    tasks = [task for task in dag_tasks if "container" in by_name[task["template"]]]
    assert len(tasks) == 1000
    # start gets its own template (it receives the parameters' command line); the 999 others share one.
    assert len(container_templates(manifest)) == 1 + 1
    assert len({task["template"] for task in tasks}) == 2
    assert len(json.dumps(manifest)) < MIB


FAN_OUT = """
from flowkit import Flow, Parameter, kubernetes, step


@kubernetes(image="img:1", gpu=1)
class FanFlow(Flow):
    width = Parameter("width", default={width})

    @step
    def start(self):
        self.items = list(range(self.width))
        self.next(self.work, foreach="items")

    @step
    def work(self):
        self.out = self.input
        self.next(self.join)

    @step
    def join(self, inputs):
        self.total = sum(task.out for task in inputs)
        self.next(self.end)

    @step
    def end(self):
        pass
"""


def test_a_ten_thousand_way_foreach_compiles_to_the_same_manifest_as_a_ten_way_one(tmp_path: Path) -> None:
    wide = compile_manifests(load_flow_source(tmp_path, FAN_OUT.format(width=10_000), "FanFlow"))
    narrow = compile_manifests(load_flow_source(tmp_path, FAN_OUT.format(width=10), "FanFlow"))
    assert wide[0]["spec"]["arguments"] == {"parameters": [{"name": "width", "value": "10000"}]}
    assert narrow[0]["spec"]["arguments"] == {"parameters": [{"name": "width", "value": "10"}]}
    # Apart from that default, nothing differs: the fan-out is a runtime list, not manifest text.
    del wide[0]["spec"]["arguments"], narrow[0]["spec"]["arguments"]
    assert wide == narrow


@pytest.mark.parametrize("environment", ["", PVC_ENVIRONMENT], ids=["plain", "pvc-environment"])
def test_a_hundred_distinct_pod_specs_stay_within_the_template_and_command_budgets(
    tmp_path: Path, environment: str
) -> None:
    for name in ("environment.yml", "conda-lock.yml"):
        shutil.copy(EXAMPLES / "conda_env" / name, tmp_path / name)
    flow_cls = load_flow_source(tmp_path, distinct_pods_flow_source(100, environment), "DistinctFlow")
    (manifest,) = compile_manifests(flow_cls)
    containers = container_templates(manifest)
    assert len(containers) == 100
    if environment:  # every pod builds its environment, so the budget holds for the largest pod spec flowkit emits
        assert all(t["container"]["command"][1] == "/flowkit-bootstrap/materialize.py" for t in containers.values())
    size = len(json.dumps(manifest, separators=(",", ":")).encode())
    assert size < TEMPLATE_BUDGET, f"{size} bytes"
    sizes = {name: command_bytes(template) for name, template in containers.items()}
    assert max(sizes.values()) < COMMAND_BUDGET, sizes


@pytest.mark.parametrize("path", EXAMPLE_FILES, ids=lambda path: str(path.relative_to(EXAMPLES)))
def test_every_pod_of_every_example_stays_within_the_command_budget(path: Path) -> None:
    """The conda example included: a step that builds its environment on the shared volume names the materializer's
    file and the environment's id, not the script and the explicit files themselves."""
    (manifest, *_) = compile_manifests(load_flow_class(str(path)))
    sizes = {name: command_bytes(template) for name, template in container_templates(manifest).items()}
    assert max(sizes.values()) < COMMAND_BUDGET, sizes
