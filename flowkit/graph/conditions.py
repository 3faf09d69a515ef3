"""When a step runs, in terms of the switches before it: the condition the Argo compiler turns into ``when``.

A switch (``self.next({...}, condition="var")``) runs exactly one of its branches. A step's condition is a
disjunction of alternatives, each a set of (switch step, branch step) choices that must all have been made; the
empty alternative means "always". A branch adds its choice to what it inherits; a step where several branches meet
runs when any of them ran, and when every branch of a switch meets there, that switch no longer matters.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

Choice = tuple[str, str]
"""(switch step, the branch it took)."""
Alternative = frozenset[Choice]
Condition = frozenset[Alternative]

ALWAYS: Condition = frozenset({frozenset()})


def after_transition(condition: Condition, switch: str | None, branch: str) -> Condition:
    """The condition of `branch` reached from a step with `condition` (through `switch`'s choice, if a switch)."""
    if switch is None:
        return condition
    return frozenset(alternative | {(switch, branch)} for alternative in condition)


def merge(conditions: Iterable[Condition], switch_branches: Mapping[str, Sequence[str]]) -> Condition:
    """The condition of a step reached from several steps: any of theirs, simplified.

    Alternatives that differ only in which branch one switch took, and together cover all of its branches, collapse
    into one without that switch; an alternative that another one implies is dropped.
    """
    alternatives = set().union(*conditions)
    changed = True
    while changed:
        changed = False
        for alternative in list(alternatives):
            for switch, _ in alternative:
                rest = alternative - {(switch, branch) for branch in switch_branches[switch]}
                siblings = {rest | {(switch, branch)} for branch in switch_branches[switch]}
                if siblings <= alternatives:
                    alternatives = (alternatives - siblings) | {rest}
                    changed = True
                    break
            if changed:
                break
    return frozenset(a for a in alternatives if not any(other < a for other in alternatives))


def exclusive(first: Condition, second: Condition) -> bool:
    """Whether two steps with these conditions can never both run: every pair of alternatives disagrees on a switch."""
    return all(_disagree(a, b) for a in first for b in second)


def _disagree(first: Alternative, second: Alternative) -> bool:
    taken = dict(first)
    return any(switch in taken and taken[switch] != branch for switch, branch in second)


def as_lists(condition: Condition) -> list[list[Choice]]:
    """A stable, JSON-ready form: alternatives sorted, choices sorted within each."""
    return sorted(sorted(alternative) for alternative in condition)
