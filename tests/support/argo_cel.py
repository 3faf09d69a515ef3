"""The CEL rules (``x-kubernetes-validations``) of Argo's CRDs, checked as an API server checks them on create.

No CEL interpreter is available here, so each rule the CRDs contain is implemented below as a Python predicate,
keyed by the rule's exact text. A CRD rule that is not in the table makes :func:`cel_rule_checker` fail loudly
instead of being skipped, so a newer CRD cannot quietly weaken the checks.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping
from typing import Any

Predicate = Callable[[Any], bool]

_ARTIFACT_LOCATIONS = ("s3", "git", "http", "artifactory", "hdfs", "raw", "oss", "gcs", "azure", "plugin")
_TEMPLATE_TYPES = ("container", "script", "dag", "steps", "resource", "suspend", "containerSet", "data", "http",
                   "plugin")  # fmt: skip


def _count_present(value: Mapping[str, Any], keys: tuple[str, ...]) -> int:
    return sum(key in value for key in keys)


def _is_parent_template(template: Mapping[str, Any]) -> bool:
    return "steps" in template or "dag" in template


_PREDICATES: dict[str, Predicate] = {
    "(has(self.s3) ? 1 : 0) + (has(self.git) ? 1 : 0) + (has(self.http) ? 1 : 0) + (has(self.artifactory) ? 1 : 0)"
    " + (has(self.hdfs) ? 1 : 0) + (has(self.raw) ? 1 : 0) + (has(self.oss) ? 1 : 0) + (has(self.gcs) ? 1 : 0)"
    " + (has(self.azure) ? 1 : 0) + (has(self.plugin) ? 1 : 0) <= 1": lambda artifact: (
        _count_present(artifact, _ARTIFACT_LOCATIONS) <= 1
    ),
    "!has(self.realtime) || !self.realtime || !self.value.contains('resourcesDuration.')": lambda gauge: (
        not gauge.get("realtime") or "resourcesDuration." not in gauge.get("value", "")
    ),
    "!has(self.depends) || !has(self.dependencies)": lambda task: not ("depends" in task and "dependencies" in task),
    "!has(self.depends) || !has(self.continueOn)": lambda task: not ("depends" in task and "continueOn" in task),
    "!(has(self.depends) || has(self.dependencies)) || !self.name.matches('^[0-9]')": lambda task: (
        not ("depends" in task or "dependencies" in task) or re.search("^[0-9]", task.get("name", "")) is None
    ),
    "!(has(self.count) && has(self.end))": lambda sequence: not ("count" in sequence and "end" in sequence),
    "(has(self.manifest) && !has(self.manifestFrom)) || (!has(self.manifest) && has(self.manifestFrom))"
    " || (!has(self.manifest) && !has(self.manifestFrom))": lambda resource: (
        not ("manifest" in resource and "manifestFrom" in resource)
    ),
    "self.all(t, (has(t.container) ? 1 : 0) + (has(t.script) ? 1 : 0) + (has(t.dag) ? 1 : 0) + (has(t.steps) ? 1 : 0)"
    " + (has(t.resource) ? 1 : 0) + (has(t.suspend) ? 1 : 0) + (has(t.containerSet) ? 1 : 0) + (has(t.data) ? 1 : 0)"
    " + (has(t.http) ? 1 : 0) + (has(t.plugin) ? 1 : 0) <= 1)": lambda templates: all(
        _count_present(template, _TEMPLATE_TYPES) <= 1 for template in templates
    ),
    'self.all(t, !(has(t.timeout) && t.timeout != "" && (has(t.steps) || has(t.dag))))': lambda templates: all(
        not (template.get("timeout", "") != "" and _is_parent_template(template)) for template in templates
    ),
    "self.all(t, !(has(t.activeDeadlineSeconds) && (has(t.steps) || has(t.dag))))": lambda templates: all(
        not ("activeDeadlineSeconds" in template and _is_parent_template(template)) for template in templates
    ),
}


def cel_rule_checker(openapi_schema: Mapping[str, Any]) -> Callable[[Any], list[str]]:
    """A function listing the CEL-rule violations of a document against ``openapi_schema`` (a CRD's schema).

    Raises NotImplementedError at once if the schema holds a rule this module does not implement.
    """
    unknown = {rule["rule"] for rule in _rules_in(openapi_schema)} - set(_PREDICATES)
    if unknown:
        raise NotImplementedError(f"the CRD has CEL rules this harness cannot check: {sorted(unknown)}")

    def violations(doc: Any) -> list[str]:
        return list(_violations(openapi_schema, doc, "$"))

    return violations


def _rules_in(schema: Any) -> Iterator[Mapping[str, str]]:
    if isinstance(schema, Mapping):
        yield from schema.get("x-kubernetes-validations", [])
        for value in schema.values():
            yield from _rules_in(value)
    elif isinstance(schema, list):
        for value in schema:
            yield from _rules_in(value)


def _violations(schema: Mapping[str, Any], value: Any, path: str) -> Iterator[str]:
    """Walk ``value`` along ``schema`` (properties, additionalProperties, items), applying rules where declared."""
    expected = dict if schema.get("type") == "object" else list if schema.get("type") == "array" else object
    if not isinstance(value, expected):
        return  # a type error, which the JSON-schema checks report; CEL rules never run on it
    for rule in schema.get("x-kubernetes-validations", []):
        if not _PREDICATES[rule["rule"]](value):
            yield f"{path}: {rule.get('message', rule['rule'])}"
    if isinstance(value, dict):
        properties = schema.get("properties", {})
        extra = schema.get("additionalProperties")
        for key, item in value.items():
            child = properties.get(key, extra if isinstance(extra, dict) else None)
            if child is not None:
                yield from _violations(child, item, f"{path}.{key}")
    elif isinstance(value, list) and isinstance(schema.get("items"), dict):
        for index, item in enumerate(value):
            yield from _violations(schema["items"], item, f"{path}[{index}]")
