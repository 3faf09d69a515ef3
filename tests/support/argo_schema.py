"""Validate Argo manifests the way a cluster would, with no cluster: Argo's JSON schema plus its CRDs' schemas.

Two independent checks, because each catches what the other lets through:

1. Argo's official JSON schema (``argo-workflows-schema.json``), patched in memory: its ``IntOrString`` definition
   is a bare string type (so an integer ``retryStrategy.limit`` would wrongly fail) and it never forbids unknown
   fields (so a misspelt field would wrongly pass). The strict copy fixes both.
2. The ``openAPIV3Schema`` of Argo's full CRDs (``crds/``): what an API server enforces on create — enums such as
   ``retryPolicy``, resource quantity patterns, ``maxItems`` limits — converted by :mod:`tests.support.argo_openapi`,
   and the CRDs' CEL rules (:mod:`tests.support.argo_cel`), such as "activeDeadlineSeconds only on leaf templates".

The schemas live beside the repository at ``<repo>/../shared/schemas`` (override with ``FLOWKIT_ARGO_SCHEMAS_DIR``).
Compiled validators are built once per process and kind: the CRD files are ~3 MB of YAML each.

Public API: :func:`validate_manifest`, :func:`manifest_errors`, :func:`validate_manifest_stream`,
:func:`validate_kubernetes_object`, :func:`schemas_dir`, :data:`ARGO_KINDS`, :class:`ManifestInvalid`.
"""

from __future__ import annotations

import copy
import functools
import json
import os
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import jsonschema
import yaml

from tests.support.argo_cel import cel_rule_checker
from tests.support.argo_openapi import strict_json_schema_from_openapi

SCHEMAS_DIR_ENV = "FLOWKIT_ARGO_SCHEMAS_DIR"
JSON_SCHEMA_FILE = "argo-workflows-schema.json"
_DEFINITION_PREFIX = "io.argoproj.workflow.v1alpha1."
_INT_OR_STRING_DEFINITION = "io.k8s.apimachinery.pkg.util.intstr.IntOrString"
_MAX_MESSAGE_CHARS = 400

#: Argo kinds this module validates, each with the CRD file whose schema a cluster enforces on it. There is no
#: ClusterWorkflowTemplate CRD among the stored files; its spec is the WorkflowTemplate spec, so that CRD serves it.
ARGO_KINDS: dict[str, str] = {
    "Workflow": "argoproj.io_workflows.yaml",
    "WorkflowTemplate": "argoproj.io_workflowtemplates.yaml",
    "ClusterWorkflowTemplate": "argoproj.io_workflowtemplates.yaml",
    "CronWorkflow": "argoproj.io_cronworkflows.yaml",
}

Document = dict[str, Any]


class ManifestInvalid(AssertionError):
    """A manifest a cluster would reject. An AssertionError so that pytest shows every listed error as a failure."""


def schemas_dir() -> Path:
    """The directory holding Argo's schemas: ``$FLOWKIT_ARGO_SCHEMAS_DIR`` or ``<repo>/../shared/schemas``.

    Raises FileNotFoundError naming both ways to provide it when the JSON schema is not there, so a missing
    checkout reads as a setup problem rather than as an invalid manifest.
    """
    override = os.environ.get(SCHEMAS_DIR_ENV)
    repo_root = Path(__file__).resolve().parents[2]
    directory = Path(override) if override else repo_root.parent / "shared" / "schemas"
    if not (directory / JSON_SCHEMA_FILE).is_file():
        raise FileNotFoundError(
            f"Argo schemas not found: {directory / JSON_SCHEMA_FILE} does not exist. Put "
            f"{JSON_SCHEMA_FILE} and crds/ there, or point {SCHEMAS_DIR_ENV} at a directory holding them."
        )
    return directory


def validate_manifest(doc: Document) -> None:
    """Raise :class:`ManifestInvalid` listing every error (with its JSON path) a cluster would find in ``doc``.

    ``doc`` is one Argo resource as a plain dict (``kind`` one of :data:`ARGO_KINDS`), e.g. what Hera's
    ``to_dict()`` returns or one document of an emitted YAML stream. Both the strict JSON schema and the CRD
    schema are checked; a ``ValueError`` is raised when ``kind`` is missing or not an Argo kind.
    """
    errors = manifest_errors(doc)
    if errors:
        name = doc.get("metadata", {}).get("name") or doc.get("metadata", {}).get("generateName") or "<unnamed>"
        listing = "\n".join(f"  - {error}" for error in errors)
        raise ManifestInvalid(f"{doc.get('kind')} {name!r} is invalid ({len(errors)} errors):\n{listing}")


def validate_manifest_stream(text: str) -> list[Document]:
    """Validate every document of a ``---``-separated YAML stream (what ``argo-create --only-yaml`` prints).

    Argo kinds go through :func:`validate_manifest`, anything else through :func:`validate_kubernetes_object`.
    Returns the parsed documents, so a test can go on to inspect them.
    """
    documents = [doc for doc in yaml.safe_load_all(text) if doc is not None]
    if not documents:
        raise ManifestInvalid("the YAML stream holds no document")
    for doc in documents:
        if not isinstance(doc, dict):
            raise ManifestInvalid(f"a YAML document is not a mapping: {doc!r:.200}")
        if doc.get("kind") in ARGO_KINDS:
            validate_manifest(doc)
        else:
            validate_kubernetes_object(doc)
    return documents


def manifest_errors(doc: Document) -> list[str]:
    """Every error in ``doc``, as ``"<check>: <json path>: <message>"`` lines; empty when the manifest is valid.

    ``<check>`` is ``json-schema``, ``crd`` (the CRD's schema) or ``crd-rule`` (its CEL validation rules), so a
    test failure says which check was broken.
    """
    kind = doc.get("kind")
    if kind not in ARGO_KINDS:
        raise ValueError(f"cannot validate kind {kind!r}: expected one of {sorted(ARGO_KINDS)}")
    crd_validator, crd_rule_violations = _crd_checks(kind)
    return [
        *_format_errors("json-schema", _json_schema_validator(kind).iter_errors(doc)),
        *_format_errors("crd", crd_validator.iter_errors(doc)),
        *(f"crd-rule: {violation}" for violation in crd_rule_violations(doc)),
    ]


def validate_kubernetes_object(obj: Document, *, kubernetes_version: str | None = None) -> None:
    """Raise :class:`ManifestInvalid` if a core Kubernetes object (a Pod, a ConfigMap, ...) is not valid.

    Uses the ``kubernetes-validate`` package's strict schemas (unknown fields are errors) for
    ``kubernetes_version`` (default: the newest it ships). That package reports the first error only.
    """
    import kubernetes_validate

    version = kubernetes_version or kubernetes_validate.latest_version()
    try:
        kubernetes_validate.validate(obj, desired_version=version, strict=True)
    except kubernetes_validate.ValidationError as error:
        raise ManifestInvalid(
            f"{obj.get('kind')} {obj.get('metadata', {}).get('name')!r} is invalid for Kubernetes {version}: "
            f"{error.json_path}: {_shorten(error.message)}"
        ) from error


def _format_errors(check: str, errors: Iterable[jsonschema.ValidationError]) -> list[str]:
    """Render schema errors sorted by location, one line each, naming the check that found them."""
    ordered = sorted(errors, key=lambda error: [str(part) for part in error.absolute_path])
    return [f"{check}: {error.json_path}: {_shorten(error.message)}" for error in ordered]


def _shorten(message: str) -> str:
    """Cut messages that quote a whole sub-document (``... is not valid under any of the given schemas``)."""
    return message if len(message) <= _MAX_MESSAGE_CHARS else message[:_MAX_MESSAGE_CHARS] + " ..."


@functools.cache
def _strict_definitions() -> dict[str, Any]:
    """Argo's JSON-schema definitions with IntOrString fixed and every object with properties made closed.

    Definitions without ``properties`` (free-form objects, maps, plain strings) are left as they are: closing them
    would reject every key.
    """
    with open(schemas_dir() / JSON_SCHEMA_FILE, encoding="utf-8") as schema_file:
        definitions: dict[str, Any] = json.load(schema_file)["definitions"]
    strict = copy.deepcopy(definitions)
    for definition in strict.values():
        if "properties" in definition and "additionalProperties" not in definition:
            definition["additionalProperties"] = False
    strict[_INT_OR_STRING_DEFINITION] = {"anyOf": [{"type": "integer"}, {"type": "string"}]}
    return strict


@functools.cache
def _json_schema_validator(kind: str) -> jsonschema.Draft202012Validator:
    """A compiled validator for one Argo kind against the strict JSON-schema copy."""
    schema = {"$ref": f"#/definitions/{_DEFINITION_PREFIX}{kind}", "definitions": _strict_definitions()}
    return jsonschema.Draft202012Validator(schema)


@functools.cache
def _crd_checks(kind: str) -> tuple[jsonschema.Draft202012Validator, Callable[[Any], list[str]]]:
    """A compiled validator for one Argo kind against its CRD's converted ``openAPIV3Schema``, and its CEL rules."""
    crd_path = schemas_dir() / "crds" / ARGO_KINDS[kind]
    if not crd_path.is_file():
        raise FileNotFoundError(f"Argo CRD not found: {crd_path} (set {SCHEMAS_DIR_ENV} to the schemas directory)")
    with open(crd_path, encoding="utf-8") as crd_file:
        crd = yaml.load(crd_file, Loader=yaml.CSafeLoader)
    openapi_schema = crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
    validator = jsonschema.Draft202012Validator(strict_json_schema_from_openapi(openapi_schema))
    return validator, cel_rule_checker(openapi_schema)
