"""The two kinds of metadata the datastore keeps: one run record per run and one commit record per task attempt.

Both are serialized as JSON, so any reader (the client, a scheduler, a pod, a human with `cat`) can follow a run
without importing the flow. They are `PlainData` classes with their own JSON reading and writing rather than
pydantic models: every task writes one and the local scheduler reads one per task, and importing pydantic would be
most of the fixed cost of ``python myflow.py run`` (as ``dataclasses`` would be a good part of a pod's start).
Reading is strict about what matters (required fields present, `status` one of the two values, nested records of
the right shape) and ignores unknown fields, so newer writers stay readable.
"""

from __future__ import annotations

import json
from datetime import datetime, timezone
from typing import Any, ClassVar, Literal, TypeVar

from flowkit.errors import DataStoreError
from flowkit.identity import TaskRef
from flowkit.plain_data import PlainData, field

_R = TypeVar("_R", bound="_Record")


def utc_now() -> datetime:
    return datetime.now(timezone.utc)


def _format_time(value: datetime) -> str:
    """ISO 8601 with a ``Z`` for UTC, as the records have always been written."""
    text = value.isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") else text


def _parse_time(value: Any) -> datetime:
    if isinstance(value, datetime):
        return value
    if not isinstance(value, str):
        raise DataStoreError(f"expected an ISO 8601 time, got {value!r}")
    return datetime.fromisoformat(value[:-1] + "+00:00" if value.endswith("Z") else value)


class _Record(PlainData):
    """JSON reading and writing shared by every record."""

    _nested: ClassVar[dict[str, Any]] = {}
    """Field -> how to rebuild it from JSON (a record class, or a function)."""

    def to_json(self, *, indent: int | None = None) -> str:
        # Compact unless indented (run.json is indented for people who read it).
        separators = (",", ":") if indent is None else (",", ": ")
        return json.dumps(self._to_data(), indent=indent, separators=separators, ensure_ascii=False)

    def _to_data(self) -> dict[str, Any]:
        return {name: _json_value(getattr(self, name)) for name in self._fields}

    @classmethod
    def from_json(cls: type[_R], text: str | bytes) -> _R:
        return cls._from_data(json.loads(text))

    @classmethod
    def _from_data(cls: type[_R], data: Any) -> _R:
        if not isinstance(data, dict):
            raise DataStoreError(f"a {cls.__name__} must be a JSON object, got {type(data).__name__}")
        known = cls._field_set
        # A record of this version has no unknown field: one copy in C instead of a filtering loop (a resume or a
        # join reads hundreds of records).
        values = dict(data) if data.keys() <= known else {name: data[name] for name in data.keys() & known}
        for name, rebuild in cls._nested.items():
            if values.get(name) is not None:
                values[name] = rebuild(values[name])
        try:
            return cls(**values)
        except TypeError as error:
            raise DataStoreError(f"malformed {cls.__name__}: {error}") from None


def _json_value(value: Any) -> Any:
    if isinstance(value, _Record):
        return value._to_data()
    if isinstance(value, datetime):
        return _format_time(value)
    if isinstance(value, dict):
        return {key: _json_value(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_value(item) for item in value]
    return value


class ArtifactRef(_Record):
    """Where an artifact's bytes live: the blob named by ``sha256`` (of its pickle), with its size and type name."""

    sha256: str
    size: int
    type: str


class ErrorInfo(_Record):
    type: str
    """The exception's class name."""
    message: str
    traceback: str = ""
    module: str = ""
    """The module defining the exception's class (empty when the task died without one)."""

    @property
    def qualified_type(self) -> str:
        return f"{self.module}.{self.type}" if self.module else self.type


class ForeachFrame(_Record):
    """The innermost foreach a task runs in: the foreach step, the variable it iterates and this task's position."""

    step: str
    var: str
    index: int


def _artifact_index(data: Any) -> dict[str, ArtifactRef]:
    if not isinstance(data, dict):
        raise DataStoreError(f"artifacts must be a JSON object, got {type(data).__name__}")
    try:  # every record names its artifacts: the three fields read directly, the general path only to word an error
        return {
            name: ArtifactRef(sha256=ref["sha256"], size=ref["size"], type=ref["type"]) for name, ref in data.items()
        }
    except (KeyError, TypeError):
        return {name: ArtifactRef._from_data(ref) for name, ref in data.items()}


class TaskRecord(_Record):
    """The commit record of one task attempt; written last, so its presence means the attempt is complete."""

    _nested: ClassVar[dict[str, Any]] = {
        "started_at": _parse_time,
        "finished_at": _parse_time,
        "error": ErrorInfo._from_data,
        "artifacts": _artifact_index,
        "foreach": ForeachFrame._from_data,
    }

    flow: str
    run_id: str
    step: str
    task_id: str
    index_path: list[int] = field(default_factory=list)
    attempt: int = 0
    status: Literal["succeeded", "failed"]
    started_at: datetime
    finished_at: datetime
    exit_code: int | None = None
    error: ErrorInfo | None = None
    artifacts: dict[str, ArtifactRef] = field(default_factory=dict)
    num_splits: int | None = None
    foreach: ForeachFrame | None = None
    spec: dict[str, Any] | None = None
    environment_id: str | None = None
    code_package_id: str | None = None
    origin_run_id: str | None = None
    """Set when the record was cloned from an earlier run by resume."""
    next_step: str | None = None
    """For a switch step: the branch its condition picked (the only child task that runs)."""
    code_hash: str | None = None
    """The step's `code_hash` (its code and its parents' names) when the task ran: resume reuses the task only if
    the flow's step still has the same one."""

    def __post_init__(self) -> None:
        if self.status not in ("succeeded", "failed"):
            raise DataStoreError(f"a task record's status is 'succeeded' or 'failed', got {self.status!r}")
        self.index_path = list(self.index_path)

    @property
    def succeeded(self) -> bool:
        return self.status == "succeeded"

    @property
    def coordinates(self) -> TaskRef:
        """The task this is a record of."""
        return TaskRef(self.flow, self.run_id, self.step, tuple(self.index_path))


class RunRecord(_Record):
    """Written once per run by its start task (or by resume when start is reused)."""

    _nested: ClassVar[dict[str, Any]] = {"created_at": _parse_time}

    flow: str
    run_id: str
    created_at: datetime = field(default_factory=utc_now)
    parameters: dict[str, str] = field(default_factory=dict)
    """Parameter name -> JSON text, exactly as the start task received them."""
    origin_run_id: str | None = None
    code_package_id: str | None = None
    environment_id: str | None = None
    scheduler: Literal["local", "argo"] = "local"
    graph: dict[str, Any] | None = None
    """The flow's step graph (`FlowGraph.to_dict`), so a reader without the flow class (the web UI) can draw it."""
    tags: list[str] = field(default_factory=list)
    """User tags given when the run started (``run --tag``); later changes live beside the record (`RunTags`)."""
    system_tags: list[str] = field(default_factory=list)
    """Tags flowkit derives (``user:NAME``, ``project:NAME``, ``project_branch:BRANCH``); they cannot be removed."""
    end_step: str = "end"
    """The flow's last step (``@step(end=True)`` names another), whose task says whether the run succeeded."""
