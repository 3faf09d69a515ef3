"""`--with NAME[:KEY=VALUE,...]`: attach a step decorator to every step from the command line, as Metaflow does.

``python flow.py run --with retry:times=2 --with kubernetes:cpu=4`` runs as if each step that does not declare
the decorator itself had it (a step's own decorator wins). The decorators are attached for the duration of one
command and removed afterwards, so a process that runs several commands (a notebook, a test) never sees one
command's `--with` in the next.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from flowkit.errors import FlowkitError


def parse_decorator_spec(text: str) -> tuple[str, dict[str, Any]]:
    """``"retry:times=2,minutes_between_retries=0"`` -> ``("retry", {"times": 2, "minutes_between_retries": 0})``.

    Each value is read as JSON when it parses (numbers, true/false, quoted strings), else kept as text.
    """
    name, _, arguments = text.partition(":")
    fields: dict[str, Any] = {}
    for item in filter(None, arguments.split(",")):
        key, separator, value = item.partition("=")
        if not separator or not key.strip():
            raise FlowkitError(f"--with {text}: expected NAME:KEY=VALUE,KEY=VALUE, got {item!r}")
        try:
            fields[key.strip()] = json.loads(value)
        except ValueError:
            fields[key.strip()] = value
    return name.strip(), fields


def _step_decorators() -> dict[str, Any]:
    """Every decorator `--with` can attach: the spec decorators that apply to a step, by name."""
    from flowkit.specs import decorators

    found = (getattr(decorators, name) for name in dir(decorators))
    return {d.name: d for d in found if isinstance(d, decorators.SpecDecorator) and d.step_level}


@contextmanager
def attached_decorators(flow_cls: type, specs: Sequence[str]) -> Iterator[None]:
    """Attach each `--with` decorator to the steps of `flow_cls` that lack it, and restore them on exit."""
    from flowkit.authoring.step import STEP_SPECS_ATTR, find_steps
    from flowkit.specs.resolve import RESOLVED_SPECS_ATTR

    if not specs:
        yield
        return
    available = _step_decorators()
    parsed = [parse_decorator_spec(text) for text in specs]
    for name, _ in parsed:
        if name not in available:
            raise FlowkitError(f"--with {name}: no such step decorator (choose from {', '.join(sorted(available))})")
    steps = find_steps(flow_cls).values()
    saved = {function: getattr(function, STEP_SPECS_ATTR, None) for function in steps}
    try:
        for name, fields in parsed:
            decorator = available[name]
            for function in steps:
                if decorator.key not in getattr(function, STEP_SPECS_ATTR, {}):
                    decorator(**fields)(function)
        _forget_resolved_specs(flow_cls, RESOLVED_SPECS_ATTR)
        yield
    finally:
        for function, specs_before in saved.items():
            if specs_before is None:
                vars(function).pop(STEP_SPECS_ATTR, None)
            else:
                setattr(function, STEP_SPECS_ATTR, specs_before)
        _forget_resolved_specs(flow_cls, RESOLVED_SPECS_ATTR)


def _forget_resolved_specs(flow_cls: type, cache_attribute: str) -> None:
    if cache_attribute in vars(flow_cls):
        delattr(flow_cls, cache_attribute)
