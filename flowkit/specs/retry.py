"""`@retry`: how often a failed task is attempted again, and how long to wait in between."""

from __future__ import annotations

from pydantic import Field

from flowkit.specs.base import SpecModel


class RetrySpec(SpecModel):
    """Retries of a failed task. A bare `@retry` means three retries; a step without it has ``times=0``."""

    times: int = Field(default=3, ge=0, le=100, description="Extra attempts after the first failure.")
    minutes_between_retries: float = Field(default=2.0, ge=0, description="Wait before the first retry.")
    backoff_factor: float | None = Field(
        default=None, ge=1, description="Multiply the wait by this after each retry; None keeps it constant."
    )
