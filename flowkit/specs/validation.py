"""Shared validation for spec models: Kubernetes name grammars and pydantic errors as `FlowDefinitionError`.

Pydantic reports where a value is wrong as a location tuple; users need "which flow, which step, which decorator,
which keyword". `validate_spec` is the one place that translates the first into the second, so every decorator and
every merge of specs fails with the same kind of message.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, TypeVar

from pydantic import AliasChoices, ValidationError
from pydantic_core import ErrorDetails

from flowkit.errors import FlowDefinitionError
from flowkit.specs.base import SpecModel

_DNS_LABEL = r"[a-z0-9](?:[-a-z0-9]*[a-z0-9])?"
_DNS_SUBDOMAIN = re.compile(rf"^{_DNS_LABEL}(?:\.{_DNS_LABEL})*$")
_LABEL_NAME = re.compile(r"^[A-Za-z0-9](?:[-A-Za-z0-9_.]*[A-Za-z0-9])?$")
_C_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")

_Spec = TypeVar("_Spec", bound=SpecModel)

# pydantic error type -> (operator, context key): "must be >= 0, got -1" reads better than pydantic's sentence.
_BOUNDS = {
    "greater_than_equal": (">=", "ge"),
    "greater_than": (">", "gt"),
    "less_than_equal": ("<=", "le"),
    "less_than": ("<", "lt"),
}


class SpecFieldError(ValueError):
    """A check spanning several fields, raised from a model validator, that still names the field to blame."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


def check_dns_subdomain(value: str, what: str) -> str:
    """Kubernetes object names (claims, service accounts): lowercase RFC 1123 subdomain, at most 253 characters."""
    if len(value) > 253 or not _DNS_SUBDOMAIN.match(value):
        raise ValueError(f"{what} {value!r} is not a valid Kubernetes name (lowercase letters, digits, '-', '.')")
    return value


def check_dns_label(value: str, what: str) -> str:
    """Kubernetes namespaces: lowercase RFC 1123 label, at most 63 characters."""
    if len(value) > 63 or not re.match(rf"^{_DNS_LABEL}$", value):
        raise ValueError(f"{what} {value!r} is not a valid RFC 1123 label (lowercase letters, digits, '-')")
    return value


def check_label_key(key: str, what: str = "label key") -> str:
    """A label or annotation key: ``[prefix/]name``, prefix a DNS subdomain, name at most 63 characters."""
    prefix, slash, name = key.rpartition("/")
    if slash and (not prefix or len(prefix) > 253 or not _DNS_SUBDOMAIN.match(prefix)):
        raise ValueError(f"{what} {key!r} has an invalid prefix {prefix!r} (must be a DNS subdomain)")
    if len(name) > 63 or not _LABEL_NAME.match(name):
        raise ValueError(
            f"{what} {key!r}: name must be at most 63 characters of letters, digits, '-', '_', '.', "
            "starting and ending with a letter or digit"
        )
    return key


def check_label_value(value: str, what: str = "label value") -> str:
    """A label value: empty, or at most 63 characters like a label name."""
    if value and (len(value) > 63 or not _LABEL_NAME.match(value)):
        raise ValueError(
            f"{what} {value!r} must be at most 63 characters of letters, digits, '-', '_', '.', "
            "starting and ending with a letter or digit"
        )
    return value


def check_c_identifier(name: str, what: str) -> str:
    """Environment variable names: a C identifier, so every shell and every container runtime accepts them."""
    if not _C_IDENTIFIER.match(name):
        raise ValueError(f"{what} {name!r} is not a valid name (letters, digits and '_', not starting with a digit)")
    return name


def validate_spec(
    model: type[_Spec],
    fields: Mapping[str, Any],
    *,
    flow: str,
    step: str | None,
    decorator: str,
    lineno: int | None = None,
) -> _Spec:
    """Build `model` from decorator keywords, turning a pydantic error into a `FlowDefinitionError`.

    The first problem names the field; any further ones are appended to the message so a user fixes all at once.
    """
    try:
        return model.model_validate(dict(fields))
    except ValidationError as exc:
        problems = [_describe(error, model) for error in exc.errors()]
        field, message = problems[0]
        if len(problems) > 1:
            message += "; also " + "; ".join(f"{other}: {text}" for other, text in problems[1:])
        raise FlowDefinitionError(
            message, flow=flow, step=step, decorator=decorator, field=field, lineno=lineno
        ) from None


def _describe(error: ErrorDetails, model: type[SpecModel]) -> tuple[str | None, str]:
    """(field, message) for one pydantic error."""
    location = error["loc"]
    cause = error.get("ctx", {}).get("error")
    if isinstance(cause, SpecFieldError):
        return cause.field, cause.message
    field = str(location[0]) if location else None
    message = error["msg"].removeprefix("Value error, ")
    bound = _BOUNDS.get(error["type"])
    if bound is not None:
        operator, key = bound
        message = f"must be {operator} {error.get('ctx', {}).get(key)}, got {error['input']!r}"
    if error["type"] == "extra_forbidden" and len(location) == 1:
        accepted = ", ".join(sorted(_keywords(model)))
        return field, f"unknown keyword (accepted: {accepted})"
    if error["type"] == "extra_forbidden":
        message = "unknown key"
    if len(location) > 1:
        inner = "".join(f"[{part}]" if isinstance(part, int) else f"[{part!r}]" for part in location[1:])
        message = f"{inner}: {message}"
    return field, message


def _keywords(model: type[SpecModel]) -> set[str]:
    """Every keyword `model` accepts: field names and their alternative spellings."""
    keywords = set(model.model_fields)
    for info in model.model_fields.values():
        if isinstance(info.validation_alias, AliasChoices):
            keywords.update(choice for choice in info.validation_alias.choices if isinstance(choice, str))
    return keywords


def check_labels(labels: dict[str, str]) -> dict[str, str]:
    """Validate a label map (keys and values) for any spec that puts it on a Kubernetes object."""
    for key, value in labels.items():
        check_label_key(key)
        check_label_value(value, f"value of {key!r}")
    return labels


def check_annotation_keys(annotations: dict[str, str]) -> dict[str, str]:
    """Validate annotation keys; annotation values are free text in Kubernetes."""
    for key in annotations:
        check_label_key(key, "annotation key")
    return annotations
