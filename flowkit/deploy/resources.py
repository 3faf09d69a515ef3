"""The Kubernetes resources flowkit deploys, and the checks their names must pass before anything is sent.

Names are checked here, not left to the API server, so that a name that is too long fails before the first request
(nothing half-deployed) and with a message that says which limit it broke and why Argo imposes it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from flowkit.deploy.errors import DeployError

ARGO_GROUP = "argoproj.io"
ARGO_VERSION = "v1alpha1"
ARGO_API_VERSION = f"{ARGO_GROUP}/{ARGO_VERSION}"


@dataclass(frozen=True)
class ArgoResource:
    """One Argo custom resource type, as the CustomObjectsApi addresses it."""

    kind: str
    plural: str
    max_name_length: int
    """Argo copies the name into label values (at most 63 characters) and CronWorkflow runs append an 11-character
    timestamp suffix, so each kind has a tighter limit than Kubernetes' 253."""


WORKFLOW_TEMPLATE = ArgoResource("WorkflowTemplate", "workflowtemplates", 63)
CRON_WORKFLOW = ArgoResource("CronWorkflow", "cronworkflows", 52)
WORKFLOW = ArgoResource("Workflow", "workflows", 63)

GENERATED_SUFFIX_LENGTH = 5
"""Characters the API server appends to a generateName."""

_DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
"""Argo's resources are named by DNS subdomains: labels joined by dots (``project.prod.flow``, as `@project`
flows are named), each of lowercase letters, digits and ``-``."""


def check_name(resource: ArgoResource, name: str) -> str:
    """Return ``name`` if the API server and Argo will accept it for ``resource``; raise `DeployError` otherwise."""
    if len(name) > resource.max_name_length:
        raise DeployError(
            f"{resource.kind} name {name!r} is {len(name)} characters long; Argo allows at most "
            f"{resource.max_name_length} (set a shorter name with --name or @argo(name=...))"
        )
    if not _DNS_SUBDOMAIN.match(name):
        raise DeployError(
            f"{resource.kind} name {name!r} is not a valid Kubernetes name: use lowercase letters, digits, '-' and "
            "'.', each dot-separated part starting and ending with a letter or digit"
        )
    return name


def check_generate_name(resource: ArgoResource, prefix: str) -> str:
    """Check a generateName prefix: the generated name (prefix + 5 characters) must itself be valid."""
    check_name(resource, prefix.rstrip("-") or "x")
    if len(prefix) + GENERATED_SUFFIX_LENGTH > resource.max_name_length:
        raise DeployError(
            f"{resource.kind} generateName {prefix!r} is too long: with the server's {GENERATED_SUFFIX_LENGTH}-"
            f"character suffix the name would exceed {resource.max_name_length} characters"
        )
    return prefix
