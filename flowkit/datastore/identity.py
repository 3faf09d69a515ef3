"""Task identity: (flow, run id, step, foreach index path) and its deterministic text forms.

Task ids are derived, never allocated, so any scheduler (a local process or an Argo pod) can name a task's parents
and a join can find its inputs in the datastore without being handed a list.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

IndexPath = tuple[int, ...]
_TASK_ID = re.compile(r"0(\.[0-9]+)*")
_UNSAFE_CHARACTERS = frozenset("/\\\0")


def checked_name(what: str, value: object) -> str:
    """``value`` if it can name one directory of the datastore (a flow, run id or step), else a clear error.

    A name is one path component: ``..``, a separator or a leading dot would reach outside the run it names, or
    into the temporary files readers skip (``Run("../..")`` must not list the datastore's parent as steps).
    """
    if not isinstance(value, str):
        raise TypeError(f"{what} must be a string, got {type(value).__name__} {value!r}")
    if not value or value.startswith(".") or not _UNSAFE_CHARACTERS.isdisjoint(value):
        raise ValueError(
            f"{what} {value!r} is not a valid name: it must be non-empty, not start with '.', "
            "and contain no '/', '\\' or NUL"
        )
    return value


def checked_task_id(value: object) -> str:
    """``value`` if it is a task id (``"0"``, ``"0.3.1"``), else a clear error."""
    if not isinstance(value, str):
        raise TypeError(f"task id must be a string, got {type(value).__name__} {value!r}")
    if not _TASK_ID.fullmatch(value):
        raise ValueError(f"task id {value!r} is not valid: task ids look like '0', '0.3' or '0.3.1'")
    return value


def parse_index_path(text: str) -> IndexPath:
    """Parse the dot-joined text form (``"3.1"``; ``""`` for none; empty parts ignored, so ``".3"`` == ``"3"``)."""
    try:
        return tuple(int(part) for part in text.split(".") if part != "")
    except ValueError:
        raise ValueError(f"index path {text!r} must be dot-separated integers such as '3.1'") from None


def format_index_path(path: IndexPath) -> str:
    """The dot-joined text form of an index path."""
    return ".".join(str(index) for index in path)


def task_id_for(path: IndexPath) -> str:
    """``"0"`` for a task outside any foreach, ``"0.3.1"`` for position 1 of position 3."""
    return "0" + "".join(f".{index}" for index in path)


def index_path_of_task_id(task_id: str) -> IndexPath:
    """Invert :func:`task_id_for`."""
    return parse_index_path(task_id[1:]) if task_id.startswith("0") else parse_index_path(task_id)


@dataclass(frozen=True)
class TaskCoordinates:
    """Everything that names one task; the same value is computed by every scheduler."""

    flow: str
    run_id: str
    step: str
    index_path: IndexPath = ()

    @property
    def task_id(self) -> str:
        return task_id_for(self.index_path)

    def __str__(self) -> str:
        return f"{self.flow}/{self.run_id}/{self.step}/{self.task_id}"
