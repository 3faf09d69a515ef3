"""The validated step graph of a flow: plain, immutable data shared by `show`, the local runtime and the compiler.

Frozen `PlainData` classes rather than pydantic models: the graph is built by flowkit itself from checked source,
never from user input, so there is nothing to validate, and `python myflow.py run` should not pay for importing
pydantic (nor a pod's start for ``dataclasses``).
"""

from __future__ import annotations

import copy
from typing import Any, Literal

from flowkit.plain_data import PlainData, field, fields

Transition = Literal["linear", "split", "foreach", "switch", "end"]


class StepNode(PlainData, frozen=True):
    """One step and where it sits in the graph."""

    name: str
    transition: Transition
    """"linear" (one target), "split" (static branches), "foreach" (one target, once per item), "switch" (one of
    its targets, picked at run time by the value of `condition`), "end" (no next)."""
    out: list[str]
    parents: list[str]
    parent_groups: list[list[str]] = field(default_factory=list)
    """`parents` grouped so that exactly one parent of each group runs (for each task): a group of several is the
    ends of a switch's branches; usually every parent is a group of its own."""
    is_join: bool
    """The step takes `inputs`: it closes the split or foreach named by `joins`."""
    joins: str | None = None
    foreach_var: str | None = None
    """For a foreach step: the artifact holding the items."""
    foreach_depth: int = 0
    """How many foreach frames enclose this step's tasks (the length of its tasks' index paths)."""
    split_stack: list[str]
    """Enclosing split and foreach steps, innermost last (for a join: those still open after it closes its own)."""
    matching_join: str | None = None
    """For a split or foreach step: the join that closes it."""
    lineno: int
    """Source line of the step's ``def``."""
    doc: str | None = None
    is_exit_handler: bool = False
    """Run by Argo after the workflow, whatever its outcome (`@argo(on_exit=...)`); not part of the DAG."""
    condition: str | None = None
    """For a switch: the artifact whose value picks the branch."""
    switch_cases: list[tuple[str | int | float | bool, str]] = field(default_factory=list)
    """For a switch: (value of `condition`, step it leads to), in source order."""
    runs_if: list[list[tuple[str, str]]] = field(default_factory=lambda: [[]])
    """When this step's tasks run: any of these lists of (switch, branch taken) choices, all of one list made;
    ``[[]]`` (the usual case) is always. The Argo compiler turns it into ``when``."""
    code_hash: str = ""
    """sha256 of the step's code and of the steps it follows (its parents), recorded with each of its tasks: resume
    reuses a task only while this is unchanged, so an edited step, or a step whose parents changed because a step
    was added or removed before it, runs again."""


class FlowGraph(PlainData, frozen=True):
    """The steps of a flow in topological order: start first; end, then the exit handler if any, last."""

    flow_name: str
    steps: dict[str, StepNode]
    start_step: str = "start"
    """The first step: named ``start``, or marked ``@step(start=True)``."""
    end_step: str = "end"
    """The last step: named ``end``, or marked ``@step(end=True)``."""

    @property
    def exit_handler(self) -> str | None:
        """The step Argo runs after the workflow (`@argo(on_exit=...)`), if the flow has one."""
        return next((node.name for node in self.steps.values() if node.is_exit_handler), None)

    def topological_order(self) -> list[str]:
        """Step names such that every step comes after all of its parents."""
        return list(self.steps)

    def descendants(self, step: str) -> set[str]:
        """Every step reachable from `step` by following transitions (`step` itself excluded)."""
        seen: set[str] = set()
        pending = list(self.steps[step].out)
        while pending:
            name = pending.pop()
            if name not in seen:
                seen.add(name)
                pending.extend(self.steps[name].out)
        return seen

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form, for `show`, run records and tooling."""
        return {
            "flow": self.flow_name,
            "steps": [_node_dict(node) for node in self.steps.values()],
            "start_step": self.start_step,
            "end_step": self.end_step,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> FlowGraph:
        """The graph `to_dict` wrote (a run record's copy); fields added later are ignored, missing ones defaulted."""
        known = set(fields(StepNode))
        steps = [StepNode(**{key: value for key, value in step.items() if key in known}) for step in data["steps"]]
        ends = {key: data[key] for key in ("start_step", "end_step") if key in data}
        return cls(flow_name=data["flow"], steps={step.name: step for step in steps}, **ends)


def _node_dict(node: StepNode) -> dict[str, Any]:
    """A step's fields as JSON-ready data, its lists copied (a caller may change them; the graph stays as it is)."""
    return {name: copy.deepcopy(getattr(node, name)) for name in fields(node)}
