"""Turn a CRD's OpenAPI v3 schema into a JSON Schema that rejects what a Kubernetes API server rejects.

A CustomResourceDefinition's ``openAPIV3Schema`` is not quite JSON Schema: it marks int-or-string fields with
``x-kubernetes-int-or-string``, nullable ones with ``nullable``, free-form ones with
``x-kubernetes-preserve-unknown-fields``, and it says nothing about unknown fields because the API server prunes
them (or, with strict field validation, which flowkit's deploy path asks for, rejects them). This module rewrites
those conventions into plain JSON Schema so that ``jsonschema`` enforces them the way the API server does.

CEL rules (``x-kubernetes-validations``) are checked separately by :mod:`tests.support.argo_cel`. Not enforced:
``format`` (int32, date-time, ...), which the server also checks.
"""

from __future__ import annotations

from typing import Any

JsonSchema = dict[str, Any]

# Keys that only document or default a value: dropping them keeps the converted schema small and fast.
_IGNORED_KEYS = frozenset({"description", "default", "example", "format", "externalDocs"})
_SUBSCHEMA_LIST_KEYS = ("anyOf", "allOf", "oneOf")
_INT_OR_STRING: list[JsonSchema] = [{"type": "integer"}, {"type": "string"}]


def strict_json_schema_from_openapi(node: JsonSchema) -> JsonSchema:
    """Return a JSON Schema equivalent to the OpenAPI v3 (structural) schema ``node``, with unknown fields forbidden.

    Rules, applied at every level:
    - ``x-kubernetes-int-or-string: true`` becomes ``anyOf: [integer, string]``; a ``pattern`` beside it (resource
      quantities) then applies to strings only, exactly as the server applies it.
    - ``nullable: true`` admits ``null`` (in ``type``, ``anyOf`` and ``enum``).
    - An object schema with ``properties`` gets ``additionalProperties: false`` unless it declares
      ``additionalProperties`` itself or ``x-kubernetes-preserve-unknown-fields: true`` (strict field validation).
    - Other ``x-kubernetes-*`` markers (list types, map types, CEL validations) are dropped.
    """
    converted: JsonSchema = {}
    for key, value in node.items():
        if key in _IGNORED_KEYS or key.startswith("x-kubernetes-") or key == "nullable":
            continue
        if key == "properties":
            converted[key] = {name: strict_json_schema_from_openapi(sub) for name, sub in value.items()}
        elif key in ("items", "additionalProperties", "not") and isinstance(value, dict):
            converted[key] = strict_json_schema_from_openapi(value)
        elif key in _SUBSCHEMA_LIST_KEYS:
            converted[key] = [strict_json_schema_from_openapi(sub) for sub in value]
        else:
            converted[key] = value

    if node.get("x-kubernetes-int-or-string"):
        converted.pop("type", None)
        converted["anyOf"] = [dict(choice) for choice in _INT_OR_STRING]
    if (
        "properties" in node
        and "additionalProperties" not in node
        and not node.get("x-kubernetes-preserve-unknown-fields")
    ):
        converted["additionalProperties"] = False
    if node.get("nullable"):
        _admit_null(converted)
    return converted


def _admit_null(schema: JsonSchema) -> None:
    """Widen ``schema`` in place so that JSON ``null`` is valid, as OpenAPI's ``nullable: true`` says."""
    declared_type = schema.get("type")
    if isinstance(declared_type, str):
        schema["type"] = [declared_type, "null"]
    elif isinstance(declared_type, list) and "null" not in declared_type:
        schema["type"] = [*declared_type, "null"]
    if "anyOf" in schema:
        schema["anyOf"] = [*schema["anyOf"], {"type": "null"}]
    if "enum" in schema and None not in schema["enum"]:
        schema["enum"] = [*schema["enum"], None]
