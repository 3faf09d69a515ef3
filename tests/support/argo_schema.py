"""Validate Argo manifests the way a cluster would, with no cluster: Argo's JSON schema plus its CRDs' schemas.

Two independent checks, because each catches what the other lets through:

1. Argo's official JSON schema (``schema-v4.1.2.json``), patched in memory: its ``IntOrString`` definition
   is a bare string type (so an integer ``retryStrategy.limit`` would wrongly fail) and it never forbids unknown
   fields (so a misspelt field would wrongly pass). The strict copy fixes both.
2. The ``openAPIV3Schema`` of Argo's full CRDs (``crds-v<version>/``): what an API server enforces on create — enums
   such as ``retryPolicy``, resource quantity patterns, ``maxItems`` limits — converted by
   :mod:`tests.support.argo_openapi`, and the CRDs' CEL rules (:mod:`tests.support.argo_cel`), such as
   "activeDeadlineSeconds only on leaf templates".

The files live in the repository under ``tests/data/argo/`` (its README names their source, tag and license). Every
check takes an ``argo_version`` (one of :data:`ARGO_VERSIONS`, or its ``major.minor`` prefix such as ``"3.5"``;
default :data:`LATEST_ARGO_VERSION`), so a test can prove that a manifest suits each Argo release flowkit supports.
Argo publishes its JSON schema for the newest release only: older versions are checked against their CRDs alone.
CRDs are parsed with libyaml and compiled once per process, version and kind (each file is up to 3 MB of YAML).

Public API: :func:`validate_manifest`, :func:`manifest_errors`, :func:`validate_manifest_stream`,
:func:`validate_kubernetes_object`, :func:`crd_openapi_schema`, :func:`crd_validator`, :func:`resolve_argo_version`,
:data:`ARGO_VERSIONS`, :data:`LATEST_ARGO_VERSION`, :data:`ARGO_KINDS`, :data:`ARGO_DATA_DIR`,
:class:`ManifestInvalid`.
"""

from __future__ import annotations

import copy
import functools
import json
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import jsonschema
import yaml

from tests.support.argo_cel import cel_rule_checker
from tests.support.argo_openapi import strict_json_schema_from_openapi

#: Where the copies of Argo's schema and CRDs live (see the README there for their provenance).
ARGO_DATA_DIR = Path(__file__).resolve().parents[1] / "data" / "argo"
#: Argo releases whose full CRDs are stored, oldest first; one per supported minor version.
ARGO_VERSIONS: tuple[str, ...] = ("3.5.15", "3.6.19", "3.7.18", "4.1.2")
LATEST_ARGO_VERSION = ARGO_VERSIONS[-1]
#: The one release whose JSON schema is stored; the JSON-schema check applies to manifests meant for it only.
JSON_SCHEMA_VERSION = "4.1.2"
_DEFINITION_PREFIX = "io.argoproj.workflow.v1alpha1."
_INT_OR_STRING_DEFINITION = "io.k8s.apimachinery.pkg.util.intstr.IntOrString"
_MAX_MESSAGE_CHARS = 400
# libyaml's parser reads a 3 MB CRD in well under a second, the pure-Python one in about half a minute; PyYAML's
# wheels ship libyaml, the fallback only keeps a build without it working.
_YAML_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

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


def resolve_argo_version(argo_version: str) -> str:
    """The stored release ``argo_version`` names: an exact entry of :data:`ARGO_VERSIONS` or its ``major.minor``.

    Raises ValueError listing the stored releases otherwise, so a typo never silently checks against another one.
    """
    for known in ARGO_VERSIONS:
        if argo_version in (known, known.rsplit(".", 1)[0]):
            return known
    raise ValueError(f"no Argo {argo_version!r} schemas are stored: expected one of {', '.join(ARGO_VERSIONS)}")


def validate_manifest(doc: Document, *, argo_version: str = LATEST_ARGO_VERSION) -> None:
    """Raise :class:`ManifestInvalid` listing every error (with its JSON path) a cluster would find in ``doc``.

    ``doc`` is one Argo resource as a plain dict (``kind`` one of :data:`ARGO_KINDS`), e.g. what Hera's
    ``to_dict()`` returns or one document of an emitted YAML stream, checked as a cluster running ``argo_version``
    would check it. A ``ValueError`` is raised when ``kind`` is missing or not an Argo kind.
    """
    errors = manifest_errors(doc, argo_version=argo_version)
    if errors:
        name = doc.get("metadata", {}).get("name") or doc.get("metadata", {}).get("generateName") or "<unnamed>"
        listing = "\n".join(f"  - {error}" for error in errors)
        version = resolve_argo_version(argo_version)
        raise ManifestInvalid(
            f"{doc.get('kind')} {name!r} is invalid for Argo {version} ({len(errors)} errors):\n{listing}"
        )


def validate_manifest_stream(text: str, *, argo_version: str = LATEST_ARGO_VERSION) -> list[Document]:
    """Validate every document of a ``---``-separated YAML stream (what ``argo-create --only-yaml`` prints).

    Argo kinds go through :func:`validate_manifest` for ``argo_version``, anything else through
    :func:`validate_kubernetes_object`. Returns the parsed documents, so a test can go on to inspect them.
    """
    documents = [doc for doc in yaml.load_all(text, Loader=_YAML_LOADER) if doc is not None]
    if not documents:
        raise ManifestInvalid("the YAML stream holds no document")
    for doc in documents:
        if not isinstance(doc, dict):
            raise ManifestInvalid(f"a YAML document is not a mapping: {doc!r:.200}")
        if doc.get("kind") in ARGO_KINDS:
            validate_manifest(doc, argo_version=argo_version)
        else:
            validate_kubernetes_object(doc)
    return documents


def manifest_errors(doc: Document, *, argo_version: str = LATEST_ARGO_VERSION) -> list[str]:
    """Every error in ``doc`` for ``argo_version``, as ``"<check>: <json path>: <message>"`` lines; empty if valid.

    ``<check>`` is ``json-schema`` (only for :data:`JSON_SCHEMA_VERSION`, the release whose JSON schema is stored),
    ``crd`` (the CRD's schema) or ``crd-rule`` (its CEL validation rules), so a test failure says which check broke.
    """
    kind = doc.get("kind")
    if kind not in ARGO_KINDS:
        raise ValueError(f"cannot validate kind {kind!r}: expected one of {sorted(ARGO_KINDS)}")
    version = resolve_argo_version(argo_version)
    json_schema_errors = (
        _format_errors("json-schema", _json_schema_validator(kind).iter_errors(doc))
        if version == JSON_SCHEMA_VERSION
        else []
    )
    return [
        *json_schema_errors,
        *_format_errors("crd", crd_validator(kind, version).iter_errors(doc)),
        *(f"crd-rule: {violation}" for violation in _cel_rule_checker(ARGO_KINDS[kind], version)(doc)),
    ]


def crd_openapi_schema(kind: str, argo_version: str = LATEST_ARGO_VERSION) -> dict[str, Any]:
    """The ``openAPIV3Schema`` of ``kind``'s full CRD in ``argo_version``, as stored (shared: do not mutate it)."""
    return _crd_openapi_schema(ARGO_KINDS[kind], resolve_argo_version(argo_version))


def crd_validator(kind: str, argo_version: str = LATEST_ARGO_VERSION) -> jsonschema.Draft202012Validator:
    """A compiled validator enforcing ``kind``'s CRD schema of ``argo_version`` as an API server does (strictly).

    CEL rules are not part of it; :func:`manifest_errors` adds them.
    """
    return _crd_validator(ARGO_KINDS[kind], resolve_argo_version(argo_version))


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
    with open(ARGO_DATA_DIR / f"schema-v{JSON_SCHEMA_VERSION}.json", encoding="utf-8") as schema_file:
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
def _crd_openapi_schema(crd_file: str, version: str) -> dict[str, Any]:
    """Parse one stored CRD once per process (with libyaml, see ``_YAML_LOADER``)."""
    with open(ARGO_DATA_DIR / f"crds-v{version}" / crd_file, encoding="utf-8") as crd_stream:
        crd = yaml.load(crd_stream, Loader=_YAML_LOADER)
    schema: dict[str, Any] = crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
    return schema


@functools.cache
def _crd_validator(crd_file: str, version: str) -> jsonschema.Draft202012Validator:
    """One compiled strict validator per CRD file and version (kinds sharing a CRD share it)."""
    return jsonschema.Draft202012Validator(strict_json_schema_from_openapi(_crd_openapi_schema(crd_file, version)))


@functools.cache
def _cel_rule_checker(crd_file: str, version: str) -> Callable[[Any], list[str]]:
    """The CEL rules of one stored CRD, as a function listing a manifest's violations (built once per process)."""
    return cel_rule_checker(_crd_openapi_schema(crd_file, version))
