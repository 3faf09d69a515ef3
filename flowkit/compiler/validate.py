"""Checks the compiler runs before building Hera objects.

Hera and the Kubernetes API check little: a DAG cycle, a dependency on a task that does not exist, or a reference
to a missing template all pass schema validation and fail only inside the Argo controller, and a Container with no
image silently gets ``python:3.10``. Every such problem is reported here, naming the flow and the step.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING

from flowkit.compiler.layout import DagLayout
from flowkit.compiler.pods import PodPlan
from flowkit.compiler.segments import MAX_DAG_TASKS, MAX_TEMPLATES
from flowkit.compiler.templates import PACKAGE_CACHE_MOUNT
from flowkit.errors import FlowDefinitionError

if TYPE_CHECKING:
    from flowkit.specs import ArgoSpec


def check_task_names(flow: str, dags: Iterable[DagLayout]) -> None:
    """Two steps whose names normalize to the same Kubernetes name (``Train`` and ``train``) cannot coexist."""
    for dag in dags:
        seen: dict[str, str] = {}
        for task in dag.tasks:
            if task.name in seen:
                raise FlowDefinitionError(
                    f"its Argo task name {task.name!r} clashes with step {seen[task.name]!r}; rename one of them",
                    flow=flow,
                    step=task.step,
                )
            seen[task.name] = task.step


def check_template_names(flow: str, distinct_plans: Sequence[PodPlan]) -> None:
    """Template names carry a short hash of their pod plan; two plans sharing one would merge two pod specs."""
    if len({plan.template_name for plan in distinct_plans}) != len(distinct_plans):
        raise FlowDefinitionError(
            "two different pod specs got the same template name (a short-hash collision); change any pod setting "
            "of one step, or report this",
            flow=flow,
        )


def check_references(flow: str, dags: list[DagLayout], templates: set[str]) -> None:
    """Every task's template exists and every dependency names a task of the same DAG."""
    known_templates = templates | {dag.name for dag in dags}
    for dag in dags:
        names = {task.name for task in dag.tasks}
        for task in dag.tasks:
            if task.template not in known_templates:
                raise FlowDefinitionError(
                    f"task {task.name!r} refers to template {task.template!r}, which was not built",
                    flow=flow,
                    step=task.step,
                )
            missing = [dependency for dependency in task.dependencies if dependency not in names]
            if missing:
                raise FlowDefinitionError(
                    f"task {task.name!r} in DAG {dag.name!r} depends on {missing}, which are not tasks of that DAG",
                    flow=flow,
                    step=task.step,
                )


def check_acyclic(flow: str, dags: Iterable[DagLayout]) -> None:
    """Kahn's algorithm per DAG: whatever is left unscheduled sits on a cycle."""
    for dag in dags:
        pending = {task.name: set(task.dependencies) for task in dag.tasks}
        dependents: dict[str, list[str]] = {}
        for task in dag.tasks:
            for dependency in task.dependencies:
                dependents.setdefault(dependency, []).append(task.name)
        ready = [name for name, deps in pending.items() if not deps]
        while ready:
            done = ready.pop()
            del pending[done]
            for name in dependents.get(done, ()):
                pending[name].discard(done)
                if not pending[name]:
                    ready.append(name)
        if pending:
            step = next(task.step for task in dag.tasks if task.name in pending)
            raise FlowDefinitionError(
                f"tasks {sorted(pending)} of DAG {dag.name!r} depend on each other in a cycle", flow=flow, step=step
            )


def check_template_count(flow: str, containers: int, dags: int) -> None:
    """Argo accepts at most `MAX_TEMPLATES` templates in one WorkflowTemplate; refuse before the API server does.

    Container templates are one per distinct pod spec, DAG templates one per foreach body (plus the segments of
    very large DAGs), so only a flow with close to 200 distinct pod specs or foreach steps gets here.
    """
    if containers + dags > MAX_TEMPLATES:
        raise FlowDefinitionError(
            f"the workflow needs {containers + dags} templates ({containers} distinct pod specs, {dags} DAGs: the "
            f"flow, its foreach bodies and the segments of DAGs over {MAX_DAG_TASKS} tasks), but Argo accepts at "
            f"most {MAX_TEMPLATES} in one WorkflowTemplate; give more steps the same @kubernetes/@resources/"
            "@retry/@timeout/@environment settings, or split the flow",
            flow=flow,
        )


def check_image(flow: str, step: str, image: str | None) -> str:
    """A pod without an image would silently run ``python:3.10``; refuse instead."""
    if not image:
        raise FlowDefinitionError(
            "no container image: set @kubernetes(image=...) on the flow class or on this step, "
            "or use an environment that provides one",
            flow=flow,
            step=step,
            decorator="kubernetes",
            field="image",
        )
    return image


def check_mounts(flow: str, step: str, pvc: dict[str, str], argo: ArgoSpec) -> None:
    """The datastore claim (and a node or pod package cache) is mounted in every pod; a user claim at the same path
    would make the pod invalid."""
    taken = {argo.datastore_mount: "the datastore", "/dev/shm": "shared memory"}
    if argo.package_cache != "volume":
        taken[PACKAGE_CACHE_MOUNT] = "the code package cache"
    for claim, path in pvc.items():
        if path in taken:
            raise FlowDefinitionError(
                f"claim {claim!r} is mounted at {path!r}, which the pod already uses ({taken[path]}); "
                "choose another path",
                flow=flow,
                step=step,
                decorator="kubernetes",
                field="pvc",
            )
