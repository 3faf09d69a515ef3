"""Helpers of the Argo compiler tests: compile a flow against a fixed package reference and inspect the result."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from flowkit.argo import compile_flow
from flowkit.argo.render import to_dicts
from flowkit.packaging import PackageRef

Manifest = dict[str, Any]

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


def compile_manifests(flow_cls: type, **options: Any) -> list[Manifest]:
    """The WorkflowTemplate (and CronWorkflow, if scheduled) of ``flow_cls`` as plain dicts."""
    return to_dicts(compile_flow(flow_cls, package=PACKAGE, **options))


def templates(manifest: Manifest) -> dict[str, Manifest]:
    return {template["name"]: template for template in manifest["spec"]["templates"]}


def container_templates(manifest: Manifest) -> dict[str, Manifest]:
    return {name: template for name, template in templates(manifest).items() if "container" in template}


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
