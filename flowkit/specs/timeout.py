"""`@timeout`: the longest one attempt of a task may run before it is killed (and retried, with `@retry`)."""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field, model_validator

from flowkit.specs.base import SpecModel


class TimeoutSpec(SpecModel):
    """A duration given in any mix of seconds, minutes and hours, which add up.

    The three fields are parts of ONE duration, so when a step-level `@timeout` meets a class-level one the step's
    spec replaces the default as a whole (a step saying ``seconds=30`` means 30 seconds, not "the class's hours plus
    30 seconds").
    """

    merge_as_whole: ClassVar[bool] = True

    seconds: int = Field(default=0, ge=0, description="Seconds, added to minutes and hours.")
    minutes: int = Field(default=0, ge=0, description="Minutes, added to seconds and hours.")
    hours: int = Field(default=0, ge=0, description="Hours, added to seconds and minutes.")

    @model_validator(mode="after")
    def _not_zero(self) -> TimeoutSpec:
        if self.total_seconds <= 0:
            raise ValueError("the timeout must be longer than zero: give seconds=, minutes= or hours=")
        return self

    @property
    def total_seconds(self) -> int:
        """The whole duration in seconds."""
        return self.seconds + 60 * self.minutes + 3600 * self.hours
