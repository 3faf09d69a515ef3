"""`@environment`: environment variables set for the step's code, locally and in its pod."""

from __future__ import annotations

from pydantic import Field, field_validator

from flowkit.specs.base import SpecModel
from flowkit.specs.validation import check_c_identifier


class EnvironmentSpec(SpecModel):
    """Variables exported before the step runs."""

    vars: dict[str, str] = Field(default_factory=dict, description="Variable name -> value, set locally and in pods.")

    @field_validator("vars")
    @classmethod
    def _names(cls, variables: dict[str, str]) -> dict[str, str]:
        for name in variables:
            check_c_identifier(name, "environment variable")
        return variables
