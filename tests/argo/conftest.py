"""Helpers of the Argo compiler tests: compile a flow against a fixed package reference and inspect the result."""

from __future__ import annotations

import importlib.util
import itertools
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from flowkit.compiler import compile_flow
from flowkit.compiler.render import to_dicts
from flowkit.packaging import PackageRef

Manifest = dict[str, Any]
_module_numbers = itertools.count()

PACKAGE = PackageRef(
    package_id="1" * 64,
    archive_sha256="2" * 64,
    payload_sha256="3" * 64,
    python_version="3.11",
    cloudpickle_version="3.1.2",
    archive_path=f"packages/sha256/{'1' * 64}/code.tar.gz",
    manifest_path=f"packages/sha256/{'1' * 64}/manifest.json",
    payload_path=f"packages/payloads/{'3' * 64}.pkl",
)
"""A package reference as argo-create would produce it; the compiler only copies its values into commands."""

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def _example_flow_files() -> list[Path]:
    """examples/*.py and the flow files of examples/*/ (the files that define a Flow subclass)."""
    candidates = [*EXAMPLES.glob("*.py"), *EXAMPLES.glob("*/*.py")]
    return sorted(path for path in candidates if "(Flow)" in path.read_text(encoding="utf-8"))


EXAMPLE_FILES = _example_flow_files()


def compile_manifests(flow_cls: type, **options: Any) -> list[Manifest]:
    """The WorkflowTemplate (and CronWorkflow, if scheduled) of ``flow_cls`` as plain dicts."""
    return to_dicts(compile_flow(flow_cls, package=PACKAGE, **options))


def templates(manifest: Manifest) -> dict[str, Manifest]:
    return {template["name"]: template for template in manifest["spec"]["templates"]}


def container_templates(manifest: Manifest) -> dict[str, Manifest]:
    return {name: template for name, template in templates(manifest).items() if "container" in template}


def pod_volumes(manifest: Manifest, template: Manifest) -> dict[str, Manifest]:
    """name → volume of what a pod of ``template`` gets, as Argo builds it: the template's own volumes, then the
    workflow's ``spec.volumes`` that its container mounts."""
    own = {volume["name"]: volume for volume in template.get("volumes", [])}
    shared = {volume["name"]: volume for volume in manifest["spec"].get("volumes", [])}
    mounted = [mount["name"] for mount in template["container"].get("volumeMounts", [])]
    return {name: own.get(name) or shared[name] for name in mounted if name in own or name in shared}


def dag_tasks(manifest: Manifest, dag: str) -> dict[str, Manifest]:
    return {task["name"]: task for task in templates(manifest)[dag]["dag"]["tasks"]}


def arguments(task: Manifest) -> dict[str, str]:
    return {parameter["name"]: parameter["value"] for parameter in task.get("arguments", {}).get("parameters", [])}


def step_tasks(manifest: Manifest) -> Iterator[tuple[str, Manifest, Manifest]]:
    """(step name, DAG task, container template) for every step task of every DAG, exit handler included."""
    by_name = templates(manifest)
    for template in by_name.values():
        for task in template.get("dag", {}).get("tasks", []):
            target = by_name[task["template"]]
            if "container" in target:
                yield arguments(task)["step"], task, target


def command_option(template: Manifest, option: str) -> list[str]:
    """Every value following ``option`` in the container's command (the executor's argv comes after ``--``)."""
    command = template["container"]["command"]
    task_argv = command[command.index("--") + 1 :]
    return [task_argv[i + 1] for i, word in enumerate(task_argv[:-1]) if word == option]


def load_flow_source(directory: Path, source: str, name: str) -> type:
    """Write ``source`` as a module in ``directory``, import it, return class ``name``.

    The graph is read from the class's source file, so generated flows (1,000 steps) must live in a real file.
    """
    module_name = f"flowkit_argo_generated_{next(_module_numbers)}"
    path = directory / f"{module_name}.py"
    path.write_text(textwrap.dedent(source))
    spec = importlib.util.spec_from_file_location(module_name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    spec.loader.exec_module(module)
    flow_cls: type = getattr(module, name)
    return flow_cls


def _flow_header(image: str | None, name: str, class_decorator: str = "") -> list[str]:
    decorators = [f"@kubernetes(image={image!r}, gpu=1)"] if image else []
    decorators += [class_decorator] if class_decorator else []
    return ["from flowkit import Flow, conda, kubernetes, step", "", "", *decorators, f"class {name}(Flow):"]


def _step(name: str, body: str, *, join: bool = False) -> list[str]:
    return ["    @step", f"    def {name}(self{', inputs' if join else ''}):", f"        {body}", ""]


def linear_flow_source(
    steps: int, image: str | None = "img:1", name: str = "GeneratedFlow", class_decorator: str = ""
) -> str:
    """A flow of ``steps`` steps between start and end, all sharing one pod spec; ``class_decorator``: a line put
    above the class (after its ``@kubernetes``)."""
    names = ["start", *(f"step_{i}" for i in range(steps)), "end"]
    lines = _flow_header(image, name, class_decorator)
    for current, following in zip(names, [*names[1:], None], strict=True):
        lines += _step(current, f"self.next(self.{following})" if following else "pass")
    return "\n".join(lines)


def branched_flow_source(total_steps: int, branch_length: int = 50, name: str = "BranchedFlow") -> str:
    """start, a static split into branches of ``branch_length`` steps, their join and end: ``total_steps`` in all.

    Wide rather than deep, as real large flows are (and as the graph validator's recursion expects).
    """
    body_steps = total_steps - 3
    lengths = [branch_length] * (body_steps // branch_length) + (
        [body_steps % branch_length] * bool(body_steps % branch_length)
    )
    branches = [[f"b{b}_s{i}" for i in range(length)] for b, length in enumerate(lengths)]
    lines = _flow_header("img:1", name)
    lines += _step("start", "self.next(" + ", ".join(f"self.{branch[0]}" for branch in branches) + ")")
    for branch in branches:
        for current, following in zip(branch, [*branch[1:], "join"], strict=True):
            lines += _step(current, f"self.next(self.{following})")
    lines += _step("join", "self.next(self.end)", join=True)
    lines += _step("end", "pass")
    return "\n".join(lines)
