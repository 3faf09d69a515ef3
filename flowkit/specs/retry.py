"""`@retry`: how often a failed task is attempted again, and how long to wait in between."""

from __future__ import annotations

from typing import Any

from pydantic import Field, field_validator

from flowkit.specs.base import SpecModel


class RetrySpec(SpecModel):
    """Retries of a failed task. A bare `@retry` means three retries; a step without it has ``times=0``."""

    times: int = Field(default=3, ge=0, le=100, description="Extra attempts after the first failure.")
    minutes_between_retries: float = Field(default=2.0, ge=0, description="Wait before the first retry.")
    backoff_factor: int | None = Field(
        default=None, ge=1, description="Multiply the wait by this whole number after each retry; None keeps it."
    )

    @field_validator("backoff_factor", mode="before")
    @classmethod
    def _whole_factor(cls, factor: Any) -> Any:
        """Argo parses ``backoff.factor`` as an integer and marks the node Error on anything else (never retrying),
        so a fraction is refused here, while the flow is being defined, rather than on the cluster."""
        if isinstance(factor, bool):
            raise ValueError("must be a whole number such as 2, not a boolean")
        if isinstance(factor, float):
            if not factor.is_integer():
                raise ValueError(
                    f"{factor} is not a whole number: Argo only accepts an integer backoff factor (use e.g. 2)"
                )
            return int(factor)
        return factor
