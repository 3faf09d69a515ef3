"""The two kinds of metadata the datastore keeps: one run record per run and one commit record per task attempt.

Both are pydantic models serialized as JSON, so any reader (the client, a scheduler, a pod, a human with `cat`)
can follow a run without importing the flow.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


def utc_now() -> datetime:
    return datetime.now(timezone.utc)


class _Record(BaseModel):
    model_config = ConfigDict(extra="ignore")


class ArtifactRef(_Record):
    """Where an artifact's bytes live: the blob named by ``sha256`` (of its pickle), with its size and type name."""

    sha256: str
    size: int
    type: str


class ErrorInfo(_Record):
    type: str
    message: str
    traceback: str = ""


class ForeachFrame(_Record):
    """The innermost foreach a task runs in: the foreach step, the variable it iterates and this task's position."""

    step: str
    var: str
    index: int


class TaskRecord(_Record):
    """The commit record of one task attempt; written last, so its presence means the attempt is complete."""

    flow: str
    run_id: str
    step: str
    task_id: str
    index_path: list[int] = Field(default_factory=list)
    attempt: int = 0
    status: Literal["succeeded", "failed"]
    started_at: datetime
    finished_at: datetime
    exit_code: int | None = None
    error: ErrorInfo | None = None
    artifacts: dict[str, ArtifactRef] = Field(default_factory=dict)
    num_splits: int | None = None
    foreach: ForeachFrame | None = None
    spec: dict[str, Any] | None = None
    environment_id: str | None = None
    code_package_id: str | None = None
    origin_run_id: str | None = None
    """Set when the record was cloned from an earlier run by resume."""

    @property
    def succeeded(self) -> bool:
        return self.status == "succeeded"


class RunRecord(_Record):
    """Written once per run by its start task (or by resume when start is reused)."""

    flow: str
    run_id: str
    created_at: datetime = Field(default_factory=utc_now)
    parameters: dict[str, str] = Field(default_factory=dict)
    """Parameter name -> JSON text, exactly as the start task received them."""
    origin_run_id: str | None = None
    code_package_id: str | None = None
    environment_id: str | None = None
    scheduler: Literal["local", "argo"] = "local"
