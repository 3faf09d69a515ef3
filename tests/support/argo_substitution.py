"""Argo's ``{{...}}`` variable substitution, done as exact text replacement.

Argo replaces each ``{{name}}`` tag in a template's strings with the variable's value, once: a value that itself
contains ``{{`` or quotes, newlines, unicode or JSON is inserted byte for byte and never re-scanned. No shell is
involved anywhere. A tag naming a variable that is not in scope is an error here, as it is when Argo validates a
workflow; expression tags (``{{=...}}``) are Argo's expr language, which this emulation does not implement.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

from tests.support.argo_errors import UnresolvedVariable, UnsupportedManifestFeature

_TAG = re.compile(r"\{\{(.*?)\}\}", re.DOTALL)


def substitute(text: str, scope: Mapping[str, str], *, where: str) -> str:
    """Replace every ``{{ name }}`` tag in ``text`` with ``scope[name]`` (spaces inside the braces are ignored).

    ``where`` names the template or task being resolved, for error messages.
    """

    def replace(match: re.Match[str]) -> str:
        name = match.group(1).strip()
        if name.startswith("="):
            raise UnsupportedManifestFeature(f"{where}: expression tag {match.group(0)!r} is not supported")
        if name not in scope:
            known = ", ".join(sorted(scope)) or "none"
            raise UnresolvedVariable(f"{where}: unknown variable {match.group(0)!r} (in scope: {known})")
        return scope[name]

    return _TAG.sub(replace, text)


def substitute_all(value: Any, scope: Mapping[str, str], *, where: str) -> Any:
    """:func:`substitute` applied to every string inside ``value`` (nested dicts and lists); keys are kept."""
    if isinstance(value, str):
        return substitute(value, scope, where=where)
    if isinstance(value, list):
        return [substitute_all(item, scope, where=where) for item in value]
    if isinstance(value, dict):
        return {key: substitute_all(item, scope, where=where) for key, item in value.items()}
    return value


def parameter_scope(prefix: str, values: Mapping[str, str]) -> dict[str, str]:
    """Variables ``<prefix>.<name>`` for each parameter, e.g. ``inputs.parameters.alpha``."""
    return {f"{prefix}.{name}": value for name, value in values.items()}


def item_scope(item: Any) -> dict[str, str]:
    """Variables for one fan-out item: ``item`` (strings as they are, anything else as JSON) and ``item.KEY``."""
    scope = {"item": as_parameter_text(item)}
    if isinstance(item, dict):
        scope.update({f"item.{key}": as_parameter_text(value) for key, value in item.items()})
    return scope


def as_parameter_text(value: Any) -> str:
    """How Argo renders a JSON value as a parameter: strings verbatim, everything else as compact JSON."""
    return value if isinstance(value, str) else json.dumps(value, separators=(",", ":"), ensure_ascii=False)
