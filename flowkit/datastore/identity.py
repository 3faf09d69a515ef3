"""Task identity: (flow, run id, step, foreach index path) and its deterministic text forms.

Task ids are derived, never allocated, so any scheduler (a local process or an Argo pod) can name a task's parents
and a join can find its inputs in the datastore without being handed a list.
"""

from __future__ import annotations

from dataclasses import dataclass

IndexPath = tuple[int, ...]


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
