"""Kubernetes-valid names for everything the compiler emits.

Kubernetes and Argo reject names that are not lowercase RFC 1123 labels (label values are a little looser), and
the API server says so only after part of a deployment may already exist. So every derived name is normalized
here, and every name a user gave explicitly is checked here, before anything is built or sent. Names that are too
long are truncated deterministically with a short hash of the full text, so two long names that share a prefix stay
distinct and a recompilation yields the same name.
"""

from __future__ import annotations

import hashlib
import re

TEMPLATE_LABEL = "workflows.argoproj.io/workflow-template"
"""Label Argo puts on a Workflow submitted from a WorkflowTemplate; flowkit sets it (cron runs) and lists by it."""

MAX_NAME_LENGTH = 63
"""Limit of an RFC 1123 label, of a label value, and of the names Argo copies into labels."""

MAX_CRON_WORKFLOW_NAME_LENGTH = 52
"""CronWorkflow names get an 11-character timestamp suffix per run; the result must stay a valid label."""

_HASH_LENGTH = 8
_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_LABEL_VALUE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")
_CAMEL_BOUNDARY = re.compile(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])")


def short_hash(text: str) -> str:
    """A short, stable digest used to keep truncated or merged names distinct."""
    return hashlib.sha256(text.encode()).hexdigest()[:_HASH_LENGTH]


def _truncate(name: str, source: str, max_length: int, separator_chars: str) -> str:
    """Cut ``name`` to ``max_length`` keeping a hash of ``source`` at the end, so the cut is unambiguous."""
    if len(name) <= max_length:
        return name
    head = name[: max_length - _HASH_LENGTH - 1].rstrip(separator_chars)
    return f"{head}-{short_hash(source)}"


def dns_label(text: str, max_length: int = MAX_NAME_LENGTH) -> str:
    """Turn any identifier (``TrainFlow``, ``train_model``) into an RFC 1123 label (``train-flow``, ``train-model``).

    CamelCase becomes kebab-case, anything outside ``[a-z0-9-]`` becomes ``-``, and names longer than
    ``max_length`` keep a hash of the original text.
    """
    kebab = _CAMEL_BOUNDARY.sub("-", text).lower()
    cleaned = re.sub(r"[^a-z0-9]+", "-", kebab).strip("-")
    if not cleaned:
        cleaned = f"x-{short_hash(text)}"
    return _truncate(cleaned, text, max_length, "-")


def label_value(text: str) -> str:
    """Turn any text into a valid label value (case and ``_ .`` are allowed there, unlike in names)."""
    cleaned = re.sub(r"[^A-Za-z0-9_.-]+", "-", text).strip("-_.")
    return _truncate(cleaned, text, MAX_NAME_LENGTH, "-_.")


def check_dns_label(name: str, *, what: str, max_length: int = MAX_NAME_LENGTH) -> str | None:
    """Return why ``name`` is not a valid Kubernetes name, or None when it is."""
    if len(name) > max_length:
        return f"{what} {name!r} is {len(name)} characters long; at most {max_length} are allowed"
    if not _DNS_LABEL.match(name):
        return (
            f"{what} {name!r} is not a valid Kubernetes name: use lowercase letters, digits and '-', "
            "starting and ending with a letter or digit"
        )
    return None


def is_label_value(text: str) -> bool:
    """Whether ``text`` may be used as a label value as is."""
    return len(text) <= MAX_NAME_LENGTH and bool(_LABEL_VALUE.match(text))


def project_template_name(project_flow_name: str) -> str:
    """A `@project` flow's template name, as Metaflow derives it from ``project.branch.FlowName``.

    Lowercase, ``_`` becomes ``-``, ``@`` and ``+`` (from e-mail user names) are dropped, any other character outside
    ``[a-z0-9.-]`` becomes ``-``; the dots stay (a WorkflowTemplate name is a DNS subdomain). Names over 63 characters
    keep a hash of the full text, since Argo copies the name into labels.
    """
    name = re.sub(r"[@+]", "", project_flow_name.lower()).replace("_", "-")
    name = re.sub(r"[^a-z0-9.-]", "-", name).strip(".-")
    return _truncate(name, project_flow_name, MAX_NAME_LENGTH, ".-")


def cron_workflow_name(template_name: str) -> str:
    """The CronWorkflow of a template is named after it, cut to what Argo allows for CronWorkflows."""
    return dns_label(template_name, MAX_CRON_WORKFLOW_NAME_LENGTH)
