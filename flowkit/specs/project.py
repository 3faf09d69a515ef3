"""`@project`: the flows of one project, deployed side by side per branch (Metaflow's decorator of the same name).

Names follow Metaflow's rules, because other systems see them: lowercase letters, digits and underscores, at most
128 characters, for the project and for a branch given on the command line or in the decorator.
"""

from __future__ import annotations

import re

from pydantic import Field, field_validator

from flowkit.specs.base import SpecModel

PROJECT_NAME_PATTERN = re.compile(r"^[a-z0-9_]+$")
MAX_PROJECT_NAME_LENGTH = 128


def check_project_name(value: str, *, what: str) -> str:
    """`value` if it is a valid project or branch name, else a ValueError saying why."""
    if len(value) > MAX_PROJECT_NAME_LENGTH:
        raise ValueError(f"{what} {value!r} is longer than {MAX_PROJECT_NAME_LENGTH} characters")
    if not PROJECT_NAME_PATTERN.match(value):
        raise ValueError(f"{what} {value!r} may contain only lowercase letters, digits and underscores")
    return value


class ProjectSpec(SpecModel):
    """The project a flow belongs to, and the branch it runs or deploys on when the command line names none."""

    name: str = Field(description="Project name, shared by every flow of the project.")
    branch: str | None = Field(default=None, description="Default branch (as `--branch`).")
    production: bool = Field(default=False, description="Default to the production branch (as `--production`).")

    @field_validator("name")
    @classmethod
    def _valid_name(cls, value: str) -> str:
        return check_project_name(value, what="project name")

    @field_validator("branch")
    @classmethod
    def _valid_branch(cls, value: str | None) -> str | None:
        return None if value is None else check_project_name(value, what="branch name")
