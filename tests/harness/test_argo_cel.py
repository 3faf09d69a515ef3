"""Every CEL rule of Argo's CRDs has a predicate, and an unknown rule is refused rather than skipped."""

from __future__ import annotations

import pytest

from tests.support.argo_cel import cel_rule_checker
from tests.support.argo_schema import ARGO_KINDS, manifest_errors


@pytest.mark.parametrize("kind", sorted(ARGO_KINDS))
def test_every_crd_rule_is_implemented(kind: str) -> None:
    """Loading a kind's CRD raises NotImplementedError if one of its rules has no predicate."""
    assert isinstance(manifest_errors({"kind": kind, "metadata": {"name": "x"}, "spec": {}}), list)


def test_unknown_rule_is_refused() -> None:
    schema = {"type": "object", "x-kubernetes-validations": [{"rule": "self.size() < 3", "message": "small"}]}
    with pytest.raises(NotImplementedError, match=r"self\.size\(\) < 3"):
        cel_rule_checker(schema)


def test_rules_apply_along_items_and_maps() -> None:
    schema = {
        "type": "object",
        "properties": {
            "tasks": {
                "type": "array",
                "items": {
                    "type": "object",
                    "x-kubernetes-validations": [{"rule": "!(has(self.count) && has(self.end))", "message": "one"}],
                },
            },
            "byName": {
                "type": "object",
                "additionalProperties": {
                    "type": "object",
                    "x-kubernetes-validations": [{"rule": "!(has(self.count) && has(self.end))", "message": "one"}],
                },
            },
        },
    }
    check = cel_rule_checker(schema)
    assert check({"tasks": [{"count": 1}, {"count": 1, "end": 2}], "byName": {"x": {"end": 1}}}) == ["$.tasks[1]: one"]
    assert check({"byName": {"y": {"count": 1, "end": 2}}}) == ["$.byName.y: one"]
