"""The OpenAPI-to-JSON-Schema conversion keeps the API server's meaning of each Kubernetes extension."""

from __future__ import annotations

import jsonschema
import pytest

from tests.support.argo_openapi import strict_json_schema_from_openapi

QUANTITY = r"^[0-9]+(\.[0-9]+)?([KMGTPE]i|[mkMGTPE])?$"  # a simplified resource quantity pattern

OPENAPI = {
    "type": "object",
    "properties": {
        "limit": {"x-kubernetes-int-or-string": True, "anyOf": [{"type": "integer"}, {"type": "string"}]},
        "memory": {
            "x-kubernetes-int-or-string": True,
            "anyOf": [{"type": "integer"}, {"type": "string"}],
            "pattern": QUANTITY,
        },
        "port": {"x-kubernetes-int-or-string": True},
        "policy": {"type": "string", "enum": ["Always", "OnFailure"], "nullable": True},
        "labels": {"type": "object", "additionalProperties": {"type": "string"}},
        "free": {
            "type": "object",
            "x-kubernetes-preserve-unknown-fields": True,
            "properties": {"a": {"type": "string"}},
        },
        "items": {"type": "array", "items": {"type": "object", "properties": {"name": {"type": "string"}}}},
    },
}


@pytest.fixture(scope="module")
def validator() -> jsonschema.Draft202012Validator:
    return jsonschema.Draft202012Validator(strict_json_schema_from_openapi(OPENAPI))


@pytest.mark.parametrize(
    "valid",
    [
        {"limit": 3, "port": "http", "memory": "512Mi"},
        {"memory": 1024, "port": 8080},
        {"policy": None},
        {"labels": {"any/key": "v"}},
        {"free": {"a": "x", "unknown": [1, 2]}},
        {"items": [{"name": "n"}]},
    ],
)
def test_accepts_what_the_api_server_accepts(validator: jsonschema.Draft202012Validator, valid: dict) -> None:
    assert list(validator.iter_errors(valid)) == []


@pytest.mark.parametrize(
    "invalid",
    [
        {"limit": 1.5},
        {"memory": "lots"},
        {"policy": "Sometimes"},
        {"labels": {"k": 1}},
        {"unknown": 1},
        {"items": [{"name": "n", "nmae": "typo"}]},
    ],
)
def test_rejects_what_the_api_server_rejects(validator: jsonschema.Draft202012Validator, invalid: dict) -> None:
    assert list(validator.iter_errors(invalid)) != []
