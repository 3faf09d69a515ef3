"""A flow's resolved model (its graph, its class-level specs and one spec per step) as JSON data: validated where
the flow is packaged, read back in a pod without validating anything again.

Why: the spec models are pydantic models, and a pod must run on nothing but a CPython and the code package (no
compiled dependencies). The packaging side (`flowkit.packaging.build`) writes the graph, the class-level specs and
every step's resolved spec into the package's manifest; the pod's bootstrap calls `install` with that snapshot
before it imports or unpickles the flow. From then on, in that process:

- `flowkit.graph.build_graph`, `flowkit.specs.resolve_step_specs` and `class_level_specs` (``@project``,
  ``@argo``, ...) answer for the flow from the snapshot;
- the spec decorators record nothing and validate nothing (`decorators_are_inert`): the flow's module is imported
  only to reach its step functions, and the decorators' keywords were checked when the package was built.

A spec read back is a `SpecView`: read-only attribute access to the fields of the laptop's dump, the same
`model_dump` (so a task's commit record holds the same spec in a pod as in a local run), and the one computed
field the task executor needs (`total_seconds` of `@timeout`). Only flowkit's own code reads it.
"""

from __future__ import annotations

import copy
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from flowkit.specs.resolve import StepSpec

_INSTALLED: dict[str, dict[str, Any]] = {}
"""Flow name -> its snapshot, in a process that runs shipped flows (a pod); empty everywhere else."""


class SpecView:
    """One validated spec as data: its fields by attribute, read-only; ``None`` fields dumped like pydantic's."""

    __slots__ = ("_fields",)

    def __init__(self, fields: dict[str, Any]) -> None:
        object.__setattr__(self, "_fields", fields)

    def __getattr__(self, name: str) -> Any:
        try:
            return self._fields[name]
        except KeyError:
            raise AttributeError(name) from None

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError(f"a shipped spec is read-only: {name}")

    @property
    def total_seconds(self) -> int:
        """`@timeout`'s whole duration (its fields are parts of one duration)."""
        return int(self._fields["seconds"]) + 60 * int(self._fields["minutes"]) + 3600 * int(self._fields["hours"])

    def model_dump(self, *, mode: str = "python", exclude_none: bool = False) -> dict[str, Any]:
        """The dump the spec was shipped as (JSON-ready in either mode: it came from JSON)."""
        return {
            name: copy.deepcopy(value) for name, value in self._fields.items() if not (exclude_none and value is None)
        }

    def __reduce__(self) -> tuple[type[SpecView], tuple[dict[str, Any]]]:
        return SpecView, (self._fields,)

    def __repr__(self) -> str:
        return f"SpecView({self._fields!r})"


def install(snapshot: dict[str, Any]) -> None:
    """Make this process answer for the snapshot's flow from the snapshot alone (see the module docstring)."""
    _INSTALLED[snapshot["graph"]["flow"]] = snapshot


def decorators_are_inert() -> bool:
    """True in a process running shipped flows: spec decorators neither validate nor record their keywords."""
    return bool(_INSTALLED)


def shipped_snapshot(flow_cls: type) -> dict[str, Any] | None:
    """The snapshot installed for ``flow_cls`` (its graph is read by `flowkit.graph.build_graph`), or None."""
    return _INSTALLED.get(flow_cls.__name__)


def shipped_class_specs(flow_cls: type) -> dict[str, Any] | None:
    """The shipped class-level specs of ``flow_cls`` by decorator name, or None when none were installed for it."""
    snapshot = _INSTALLED.get(flow_cls.__name__)
    if snapshot is None:
        return None
    return {name: SpecView(fields) for name, fields in snapshot["class_specs"].items()}


def shipped_step_specs(flow_cls: type) -> dict[str, StepSpec] | None:
    """The shipped resolved specs of ``flow_cls``'s steps, or None when none were installed for it."""
    snapshot = _INSTALLED.get(flow_cls.__name__)
    if snapshot is None:
        return None
    from flowkit.specs.resolve import StepSpec

    def view(fields: dict[str, Any] | None) -> Any:
        return None if fields is None else SpecView(fields)

    return {
        name: StepSpec(
            step=name,
            kubernetes=view(dump["kubernetes"]),
            retry=view(dump["retry"]),
            timeout=view(dump["timeout"]),
            environment_vars=dump["environment_vars"],
            catch=view(dump["catch"]),
            conda=view(dump["conda"]),
        )
        for name, dump in snapshot["steps"].items()
    }
