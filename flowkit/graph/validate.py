"""Check the parsed transitions form a valid flow graph, and compute each step's place in it.

The checks run in an order where each one can rely on the previous: the steps exist and name real steps, the graph
has no cycle, every step is reachable from start, then splits and joins are matched by walking the steps in
topological order with a stack of open splits (a split or foreach pushes itself, a join pops what it closes).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Mapping

from flowkit.authoring.flow import FLOW_API_NAMES
from flowkit.errors import FlowDefinitionError
from flowkit.graph.conditions import ALWAYS, Condition, after_transition, as_lists, exclusive, merge
from flowkit.graph.model import FlowGraph, StepNode, Transition
from flowkit.graph.parse import ParsedStep
from flowkit.plain_data import PlainData, field


class _Placement(PlainData):
    """A step's position found by the split/join walk."""

    split_stack: list[str]
    joins: str | None = None
    matching_join: str | None = None
    parents: list[str] = field(default_factory=list)
    parent_groups: list[list[str]] = field(default_factory=list)
    condition: Condition = ALWAYS


def validate_graph(
    flow: str, parsed: dict[str, ParsedStep], exit_handler: str | None, roles: Mapping[str, str] | None = None
) -> FlowGraph:
    """The validated `FlowGraph`; raise `FlowDefinitionError` naming the step and line of the first problem.

    `roles` maps the steps marked ``@step(start=True)`` / ``@step(end=True)`` to ``"start"`` / ``"end"``.
    """
    start, end = (_terminal_step(flow, parsed, roles or {}, role) for role in ("start", "end"))
    _check_step_names(flow, parsed)
    dag = {name: step for name, step in parsed.items() if name != exit_handler}
    _check_step_kinds(flow, parsed, exit_handler, start, end)
    order = _topological_order(flow, dag, start)
    placements = _place(flow, dag, order)
    foreach_steps = {name for name, step in dag.items() if step.foreach_var}
    nodes = [_node(dag[name], placements[name], foreach_steps) for name in order]
    if exit_handler is not None:
        nodes.append(_node(parsed[exit_handler], _Placement(split_stack=[]), foreach_steps, is_exit_handler=True))
    return FlowGraph(flow_name=flow, steps={node.name: node for node in nodes}, start_step=start, end_step=end)


def _terminal_step(flow: str, parsed: dict[str, ParsedStep], roles: Mapping[str, str], role: str) -> str:
    """The flow's first (`role` "start") or last ("end") step: the one marked ``@step(start=True)`` (or
    ``end=True``), else the step named like the role, as in Metaflow."""
    both = sorted(name for name, marked in roles.items() if marked == "startend")
    if both:
        raise FlowDefinitionError(
            "is marked @step(start=True, end=True); a flow's first and last steps are two different steps",
            flow=flow,
            step=both[0],
            lineno=parsed[both[0]].lineno,
        )
    marked = sorted(name for name, marked in roles.items() if marked == role)
    if len(marked) > 1:
        raise FlowDefinitionError(
            f"steps {', '.join(marked)} are all marked @step({role}=True); a flow has exactly one {role} step",
            flow=flow,
            step=marked[1],
            lineno=parsed[marked[1]].lineno,
        )
    if marked and role in parsed and marked[0] != role:
        raise FlowDefinitionError(
            f"is marked @step({role}=True) but a step named {role!r} exists too; rename that step or drop the mark",
            flow=flow,
            step=marked[0],
            lineno=parsed[marked[0]].lineno,
        )
    if marked:
        return marked[0]
    if role not in parsed:
        raise FlowDefinitionError(
            f"has no '{role}' step; every flow needs @step def {role}(self), or a step marked @step({role}=True)",
            flow=flow,
        )
    return role


def _check_step_names(flow: str, parsed: dict[str, ParsedStep]) -> None:
    """A step named like a Flow method or attribute (``next``, ``run``, ``input``) would shadow it for every task."""
    for step in parsed.values():
        if step.name in FLOW_API_NAMES:
            raise FlowDefinitionError(
                f"a step cannot be named {step.name!r}: that name is part of the Flow API "
                f"(Flow.{step.name}), which the step would replace; rename the step",
                flow=flow,
                step=step.name,
                lineno=step.lineno,
            )


def _check_step_kinds(flow: str, parsed: dict[str, ParsedStep], exit_handler: str | None, start: str, end: str) -> None:
    """Per-step rules: who must and must not call self.next, and where it may lead."""
    if exit_handler is not None and exit_handler not in parsed:
        raise FlowDefinitionError(
            f"on_exit={exit_handler!r} is not a step of the flow", flow=flow, decorator="argo", field="on_exit"
        )
    if parsed[start].takes_inputs:
        raise FlowDefinitionError(
            f"{start} cannot be a join: it is the first step and has no parents to take 'inputs' from",
            flow=flow,
            step=start,
            lineno=parsed[start].lineno,
        )
    for step in parsed.values():
        if step.name == exit_handler:
            if step.name in (start, end) or step.calls_next or step.takes_inputs:
                raise FlowDefinitionError(
                    "the exit handler runs alone after the workflow: it must be a step other than start and end, "
                    "take only 'self' and not call self.next",
                    flow=flow,
                    step=step.name,
                    lineno=step.next_lineno or step.lineno,
                )
        elif step.name == end and step.calls_next:
            raise FlowDefinitionError(
                f"{end} is the last step and must not call self.next", flow=flow, step=end, lineno=step.next_lineno
            )
        elif step.name != end and not step.calls_next:
            raise FlowDefinitionError(
                f"does not call self.next; every step except the end step ({end}) must say which step runs next",
                flow=flow,
                step=step.name,
                lineno=step.lineno,
            )
        for target in step.targets:
            problem = None
            if target not in parsed:
                problem = f"self.next(self.{target}): {target!r} is not a step of the flow"
            elif target == exit_handler:
                problem = f"self.next(self.{target}): the exit handler {target!r} is run by Argo, not by a step"
            elif _opens_split(step) and parsed[target].takes_inputs:
                problem = f"the branch {target!r} takes 'inputs', but a branch of a split cannot be its join"
            elif step.condition is not None and target == step.name:
                problem = f"the switch leads back to {target!r} itself; loops are not supported, a flow is acyclic"
            elif step.condition is not None and parsed[target].takes_inputs:
                problem = f"the switch leads straight to the join {target!r}; put a step between, where the branch ends"
            if problem:
                raise FlowDefinitionError(problem, flow=flow, step=step.name, lineno=step.next_lineno)


def _topological_order(flow: str, dag: dict[str, ParsedStep], start: str) -> list[str]:
    """Steps reachable from start in topological order (ties follow source order); cycles and orphans fail.

    A depth-first walk with an explicit stack rather than recursion: a long linear chain (thousands of steps) is as
    deep as it is long, and must not hit Python's recursion limit.
    """
    state: dict[str, str] = {start: "active"}  # "active" while on the DFS path, "done" after
    postorder: list[str] = []
    path = [(start, _targets_in_visit_order(dag, start))]
    while path:
        name, targets = path[-1]
        for target in targets:
            if state.get(target) == "active":
                raise FlowDefinitionError(
                    f"self.next(self.{target}) closes a cycle back to {target!r}; a flow is a directed acyclic graph",
                    flow=flow,
                    step=name,
                    lineno=dag[name].next_lineno,
                )
            if target not in state:
                state[target] = "active"
                path.append((target, _targets_in_visit_order(dag, target)))
                break
        else:  # every target of `name` is done
            path.pop()
            state[name] = "done"
            postorder.append(name)
    for step in sorted(dag.values(), key=lambda step: step.lineno):
        if step.name not in state:
            raise FlowDefinitionError(
                "is unreachable: no path of self.next calls leads from start to it",
                flow=flow,
                step=step.name,
                lineno=step.lineno,
            )
    return postorder[::-1]


def _targets_in_visit_order(dag: dict[str, ParsedStep], name: str) -> Iterator[str]:
    """The targets of `name`, latest in the source first, so that the reversed postorder follows source order."""
    return iter(sorted(dag[name].targets, key=lambda target: dag[target].lineno, reverse=True))


def _place(flow: str, dag: dict[str, ParsedStep], order: list[str]) -> dict[str, _Placement]:
    """Match every join with the split or foreach it closes; a split's branches must all meet at its join."""
    parents: dict[str, list[str]] = {name: [] for name in dag}
    for name in order:
        for target in dag[name].targets:
            parents[target].append(name)
    switch_branches = {name: list(step.targets) for name, step in dag.items() if step.condition is not None}
    placements: dict[str, _Placement] = {}
    for name in order:
        step = dag[name]
        incoming = [_stack_after(dag[parent], placements[parent]) for parent in parents[name]]
        conditions = [
            after_transition(placements[parent].condition, parent if dag[parent].condition else None, name)
            for parent in parents[name]
        ]
        if not incoming:
            placement = _Placement(split_stack=[])
        elif step.takes_inputs:
            groups = _exclusive_groups(parents[name], conditions)
            placement = _close_split(flow, dag, step, parents[name], groups, incoming, placements)
            by_parent = dict(zip(parents[name], conditions, strict=True))
            if len({merge([by_parent[p] for p in group], switch_branches) for group in groups}) > 1:
                raise FlowDefinitionError(
                    f"joins {', '.join(parents[name])}, which do not all run: every branch of "
                    f"{placement.joins} must reach this join whichever way its switches go",
                    flow=flow,
                    step=name,
                    lineno=step.lineno,
                )
            placement.parent_groups = groups
        else:
            placement = _merge_branches(flow, step, parents[name], incoming, conditions)
            placement.parent_groups = [parents[name]] if parents[name] else []
        placement.parents = parents[name]
        placement.condition = merge(conditions, switch_branches) if conditions else ALWAYS
        placements[name] = placement
    for name in order:
        if _opens_split(dag[name]) and placements[name].matching_join is None:
            kind = "foreach" if dag[name].foreach_var else "split"
            raise FlowDefinitionError(
                f"this {kind} has no matching join: its branches never meet in a step that takes 'inputs'",
                flow=flow,
                step=name,
                lineno=dag[name].next_lineno,
            )
    return placements


def _merge_branches(
    flow: str, step: ParsedStep, parents: list[str], incoming: list[list[str]], conditions: list[Condition]
) -> _Placement:
    """The placement of a step that is not a join: one parent, or the ends of a switch's branches (only one runs)."""
    for first in range(len(parents)):
        for second in range(first + 1, len(parents)):
            if not exclusive(conditions[first], conditions[second]):
                raise FlowDefinitionError(
                    f"has several parents ({parents[first]}, {parents[second]}) that can both run, but takes no "
                    f"'inputs'; the step that merges the branches of a split must be a join: def {step.name}(self, "
                    "inputs) (only a switch's branches, of which one runs, meet in a plain step)",
                    flow=flow,
                    step=step.name,
                    lineno=step.lineno,
                )
    if any(stack != incoming[0] for stack in incoming):
        raise FlowDefinitionError(
            f"is reached from {', '.join(parents)}, which lie inside different splits or foreach; a switch's "
            "branches must meet inside the split they started in",
            flow=flow,
            step=step.name,
            lineno=step.lineno,
        )
    return _Placement(split_stack=incoming[0])


def _exclusive_groups(parents: list[str], conditions: list[Condition]) -> list[list[str]]:
    """The parents of a join grouped so that exactly one parent of each group runs: the ends of one switch's branches
    share a group (they exclude each other), every other parent is a group of its own."""
    groups: list[list[int]] = []
    for index in range(len(parents)):
        linked = [group for group in groups if any(exclusive(conditions[index], conditions[i]) for i in group)]
        merged = [index] + [i for group in linked for i in group]
        groups = [group for group in groups if group not in linked] + [sorted(merged)]
    return [[parents[i] for i in group] for group in sorted(groups)]


def _close_split(
    flow: str,
    dag: dict[str, ParsedStep],
    join: ParsedStep,
    parents: list[str],
    groups: list[list[str]],
    incoming: list[list[str]],
    placements: dict[str, _Placement],
) -> _Placement:
    """The placement of `join`, after checking its parents are exactly the open ends of one split or foreach."""
    if any(stack != incoming[0] for stack in incoming):
        described = "; ".join(
            f"{parent} inside {stack[-1] if stack else 'no split'}"
            for parent, stack in zip(parents, incoming, strict=True)
        )
        raise FlowDefinitionError(
            f"joins branches of different splits ({described}); a join closes exactly one split or foreach",
            flow=flow,
            step=join.name,
            lineno=join.lineno,
        )
    if not incoming[0]:
        raise FlowDefinitionError(
            "takes 'inputs' but closes no split or foreach; only a join takes a second argument",
            flow=flow,
            step=join.name,
            lineno=join.lineno,
        )
    split = dag[incoming[0][-1]]
    branches = 1 if split.foreach_var else len(split.targets)
    if len(groups) != branches:
        kind = "foreach" if split.foreach_var else f"split into {branches} branches"
        raise FlowDefinitionError(
            f"joins {len(parents)} parent(s) ({', '.join(parents)}) but closes {split.name!r}, a {kind}; "
            "a join must receive exactly the ends of the branches it closes",
            flow=flow,
            step=join.name,
            lineno=join.lineno,
        )
    # Every open branch of a split ends in exactly one join parent, so no second join can claim the same split.
    placements[split.name].matching_join = join.name
    return _Placement(split_stack=incoming[0][:-1], joins=split.name)


def _opens_split(step: ParsedStep) -> bool:
    """Whether `step` is a static split or a foreach, which a later join must close (a switch is neither)."""
    return step.foreach_var is not None or (step.condition is None and len(step.targets) > 1)


def _stack_after(step: ParsedStep, placement: _Placement) -> list[str]:
    """The open splits seen by the targets of `step`: a split or foreach opens one more."""
    if _opens_split(step):
        return [*placement.split_stack, step.name]
    return placement.split_stack


def _node(
    step: ParsedStep, placement: _Placement, foreach_steps: set[str], *, is_exit_handler: bool = False
) -> StepNode:
    """The public node of one step."""
    transition: Transition
    if not step.targets:
        transition = "end"
    elif step.condition is not None:
        transition = "switch"
    elif step.foreach_var:
        transition = "foreach"
    elif len(step.targets) > 1:
        transition = "split"
    else:
        transition = "linear"
    return StepNode(
        name=step.name,
        transition=transition,
        out=list(step.targets),
        parents=placement.parents,
        parent_groups=placement.parent_groups,
        is_join=step.takes_inputs,
        joins=placement.joins,
        foreach_var=step.foreach_var,
        foreach_depth=sum(name in foreach_steps for name in placement.split_stack),
        split_stack=placement.split_stack,
        matching_join=placement.matching_join,
        lineno=step.lineno,
        doc=step.doc,
        is_exit_handler=is_exit_handler,
        condition=step.condition,
        switch_cases=list(step.switch_cases),
        runs_if=as_lists(placement.condition),
        code_hash=hashlib.sha256(" ".join([step.code_digest, *placement.parents]).encode()).hexdigest(),
    )
