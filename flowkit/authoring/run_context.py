"""Who started a run, with which tags, on which `@project` branch: chosen when the run starts, seen by every task.

The context travels in environment variables, set by the local runtime on each task process and by the Argo
compiler on each pod, so the task executor learns it the same way under both schedulers. The start task records
it in run.json as tags (``user:NAME``, ``project:NAME``, ``project_branch:BRANCH``), which is what the client's
namespaces filter on, and every task exposes the project through ``current``.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, NamedTuple, cast

from flowkit import settings
from flowkit.errors import FlowDefinitionError
from flowkit.plain_data import PlainData, field

if TYPE_CHECKING:
    from flowkit.specs.project import ProjectSpec


def current_user() -> str:
    """The name runs are attributed to and the default namespace is made of (the `USER` setting)."""
    return settings.value(settings.USER) or settings.USER.default or ""


def branch_name(*, branch: str | None, production: bool, user: str) -> str:
    """Metaflow's branch naming: ``user.NAME`` by default, ``test.BRANCH``, ``prod`` or ``prod.BRANCH``."""
    if branch:
        return f"{'prod' if production else 'test'}.{branch}"
    return "prod" if production else f"user.{user}"


class ProjectIdentity(NamedTuple):
    """A `@project` flow's project, branch and the name it deploys under (``project.branch.FlowName``)."""

    project_name: str
    branch_name: str
    flow_name: str

    @property
    def is_production(self) -> bool:
        return self.branch_name == "prod" or self.branch_name.startswith("prod.")

    @property
    def is_user_branch(self) -> bool:
        return self.branch_name.startswith("user.")

    @property
    def project_flow_name(self) -> str:
        return f"{self.project_name}.{self.branch_name}.{self.flow_name}"

    @property
    def tags(self) -> list[str]:
        return [f"project:{self.project_name}", f"project_branch:{self.branch_name}"]


class RunContext(PlainData, frozen=True):
    """What a run's tasks learn from their environment: the user, the user tags and the project branch."""

    user: str = field(default_factory=current_user)
    tags: tuple[str, ...] = ()
    project_branch: str | None = None
    """The resolved branch (``test.x``); None outside a `@project` flow or when the default applies."""

    def to_environment(self) -> dict[str, str]:
        environment = {settings.USER.env_var: self.user}
        if self.tags:
            environment[settings.RUN_TAGS.env_var] = json.dumps(list(self.tags))
        if self.project_branch is not None:
            environment[settings.PROJECT_BRANCH.env_var] = self.project_branch
        return environment

    @classmethod
    def from_environment(cls, environment: Mapping[str, str] = os.environ) -> RunContext:
        layers = [settings.EnvironmentLayer(environment)]
        tags = json.loads(settings.resolve(settings.RUN_TAGS, layers=layers).value or "[]")
        return cls(
            user=settings.resolve(settings.USER, layers=layers).value or current_user(),
            tags=tuple(str(tag) for tag in tags),
            project_branch=settings.resolve(settings.PROJECT_BRANCH, layers=layers).value,
        )

    def project(self, flow_cls: type) -> ProjectIdentity | None:
        """The project identity of `flow_cls` in this context, or None when it has no `@project`."""
        spec = project_spec(flow_cls)
        if spec is None:
            return None
        branch = self.project_branch or branch_name(branch=spec.branch, production=spec.production, user=self.user)
        return ProjectIdentity(spec.name, branch, flow_cls.__name__)

    def system_tags(self, flow_cls: type) -> list[str]:
        project = self.project(flow_cls)
        return [f"user:{self.user}", *(project.tags if project is not None else [])]


def project_spec(flow_cls: type) -> ProjectSpec | None:
    """The flow's `@project`, read without importing the other spec models (a plain run needs none of them)."""
    from flowkit.specs.resolve import class_level_specs

    return cast("ProjectSpec | None", class_level_specs(flow_cls).get("project"))


def start_context(
    flow_cls: type, *, tags: Sequence[str] = (), branch: str | None = None, production: bool = False
) -> RunContext:
    """The context of a run started now, with `--tag`, `--branch` and `--production` as given on the command line.

    `branch` and `production` only apply to a `@project` flow; the decorator's own defaults fill what they leave out.
    """
    from flowkit.datastore.tags import validate_tag

    for tag in tags:
        validate_tag(tag)
    user = current_user()
    spec = project_spec(flow_cls)
    if spec is None:
        return RunContext(user=user, tags=tuple(tags))
    from flowkit.specs.project import check_project_name  # imports pydantic: only a @project flow pays for it

    if branch is not None:
        try:
            check_project_name(branch, what="branch name")
        except ValueError as error:
            raise FlowDefinitionError(str(error), flow=flow_cls.__name__, decorator="project", field="branch") from None
    chosen = branch_name(branch=branch or spec.branch, production=production or spec.production, user=user)
    return RunContext(user=user, tags=tuple(tags), project_branch=chosen)
