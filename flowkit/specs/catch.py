"""`@catch`: let a step that still fails after its retries succeed, keeping the exception as an artifact."""

from __future__ import annotations

from pydantic import Field, field_validator

from flowkit.specs.base import SpecModel


class CatchSpec(SpecModel):
    """Where the caught exception goes (`var`, an artifact name) and whether its traceback is printed."""

    var: str | None = Field(default=None, description="Artifact that receives the exception; None keeps none.")
    print_exception: bool = Field(default=True, description="Print the traceback to the task's stderr.")

    @field_validator("var")
    @classmethod
    def _artifact_name(cls, var: str | None) -> str | None:
        if var is not None and (not var.isidentifier() or var.startswith("_")):
            raise ValueError(f"{var!r} must be an artifact name: a Python identifier not starting with '_'")
        return var
