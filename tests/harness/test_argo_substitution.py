"""Argo's variable substitution is exact, single-pass text replacement."""

from __future__ import annotations

import pytest

from tests.support.argo_errors import UnresolvedVariable, UnsupportedManifestFeature
from tests.support.argo_substitution import as_parameter_text, item_scope, substitute, substitute_all


def test_inserted_values_are_exact_and_never_rescanned() -> None:
    scope = {"inputs.parameters.x": 'a "{{inputs.parameters.y}}"\n\\n é', "inputs.parameters.y": "never"}
    assert substitute("<{{inputs.parameters.x}}>", scope, where="t") == '<a "{{inputs.parameters.y}}"\n\\n é>'


def test_spaces_inside_braces_are_ignored() -> None:
    assert substitute("{{ workflow.name }}-{{workflow.name}}", {"workflow.name": "w"}, where="t") == "w-w"


def test_unknown_variables_and_expressions_are_refused() -> None:
    with pytest.raises(UnresolvedVariable, match=r"inputs\.parameters\.nope"):
        substitute("{{inputs.parameters.nope}}", {}, where="t")
    with pytest.raises(UnsupportedManifestFeature, match="expression"):
        substitute("{{=sprig.upper('x')}}", {}, where="t")


def test_nested_structures_keep_their_keys_and_non_strings() -> None:
    value = {"{{k}}": ["{{k}}", 3, {"deep": "{{k}}"}]}
    assert substitute_all(value, {"k": "v"}, where="t") == {"{{k}}": ["v", 3, {"deep": "v"}]}


def test_items_render_like_argo() -> None:
    assert item_scope("text") == {"item": "text"}
    assert item_scope(3) == {"item": "3"}
    assert item_scope({"a": 1, "b": "x"}) == {"item": '{"a":1,"b":"x"}', "item.a": "1", "item.b": "x"}
    assert as_parameter_text(True) == "true" and as_parameter_text(None) == "null"
