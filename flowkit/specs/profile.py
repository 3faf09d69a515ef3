"""Cluster profiles: the defaults a cluster gives every flow deployed to it, below the flow's own decorators.

Image, namespace, service account, datastore claim and mount, pull secrets, node selector, tolerations, CPU and
memory of steps that ask for none, and the upload image come from the `flowkit.settings` cluster settings (the
``FLOWKIT_*`` variables, then the configuration file and its profile). Precedence, strongest first: a step's
decorator, the class's decorator, the profile, the built-in default. A decorator "says" a field when its author
wrote it (pydantic's ``model_fields_set``, kept through resolution), so the profile fills exactly the rest.

`explain` tells, for each value, which of those places it came from: ``show`` prints it.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from flowkit import settings
from flowkit.errors import FlowkitError

if TYPE_CHECKING:
    from flowkit.specs import StepSpec
    from flowkit.specs.argo import ArgoSpec
    from flowkit.specs.kubernetes import KubernetesSpec

KUBERNETES_FIELDS = {
    "image": settings.IMAGE,
    "node_selector": settings.NODE_SELECTOR,
    "tolerations": settings.TOLERATIONS,
}
"""Per-pod fields of `@kubernetes` that a profile fills."""
ARGO_FIELDS = {
    "namespace": settings.NAMESPACE,
    "service_account": settings.SERVICE_ACCOUNT,
    "datastore_claim": settings.DATASTORE_CLAIM,
    "datastore_mount": settings.DATASTORE_MOUNT,
    "image_pull_secrets": settings.IMAGE_PULL_SECRETS,
    "upload_image": settings.UPLOAD_IMAGE,
}
"""Flow-wide fields of `@argo` that a profile fills."""
_JSON_FIELDS = {"node_selector", "tolerations"}
_LIST_FIELDS = {"image_pull_secrets"}


@dataclass(frozen=True)
class ClusterProfile:
    """The profile's values (only those the environment or the configuration file set) and where each came from."""

    values: dict[str, Any]
    sources: dict[str, str]
    cpu: settings.Resolved
    memory: settings.Resolved
    argo_version: settings.Resolved

    @classmethod
    def load(cls) -> ClusterProfile:
        """Read the cluster settings now; a malformed value is a `FlowkitError` naming its setting and source."""
        values: dict[str, Any] = {}
        sources: dict[str, str] = {}
        try:
            for field, setting in {**KUBERNETES_FIELDS, **ARGO_FIELDS}.items():
                found = settings.resolve(setting)
                if found.source == "default" or found.value is None:
                    continue
                values[field] = _parse(field, found)
                sources[field] = found.source
            return cls(
                values,
                sources,
                settings.resolve(settings.CPU),
                settings.resolve(settings.MEMORY),
                settings.resolve(settings.ARGO_VERSION),
            )
        except ValueError as error:
            raise FlowkitError(str(error)) from error

    def fill_kubernetes(self, spec: KubernetesSpec) -> KubernetesSpec:
        """``spec`` with the profile's per-pod values where no decorator set the field."""
        return _fill(spec, {field: self.values[field] for field in KUBERNETES_FIELDS if field in self.values})

    def fill_argo(self, spec: ArgoSpec) -> ArgoSpec:
        """``spec`` with the profile's flow-wide values where `@argo` did not set the field."""
        return _fill(spec, {field: self.values[field] for field in ARGO_FIELDS if field in self.values})

    def argo_options(self, flow_cls: type) -> ArgoSpec:
        """The flow's `@argo` options over this profile."""
        from flowkit.specs import flow_options

        return self.fill_argo(flow_options(flow_cls).argo)

    def step_specs(self, flow_cls: type) -> dict[str, StepSpec]:
        """Each step's resolved spec with this profile's per-pod values under its decorators'."""
        from flowkit.specs import StepSpec, resolve_step_specs

        return {
            step: StepSpec(
                step,
                self.fill_kubernetes(spec.kubernetes),
                spec.retry,
                spec.timeout,
                spec.environment_vars,
                spec.catch,
                spec.conda,
            )
            for step, spec in resolve_step_specs(flow_cls).items()
        }


def _parse(field: str, found: settings.Resolved) -> Any:
    """A setting's text as the spec field's type. A list is comma-separated in a variable, but a configuration file
    naturally holds a JSON list (which reaches here as its JSON text), as ``@argo`` takes one: both are accepted."""
    text = str(found.value)
    if field in _LIST_FIELDS and not text.lstrip().startswith("["):
        return [name.strip() for name in text.split(",") if name.strip()]
    if field in _JSON_FIELDS | _LIST_FIELDS:
        try:
            return json.loads(text)
        except ValueError as error:
            raise ValueError(f"${found.setting.env_var} from {found.source} is not JSON: {error}") from error
    return text


def _fill(spec: Any, profile_values: dict[str, Any]) -> Any:
    """The spec validated again with the profile's values under the fields its decorators set."""
    from flowkit.specs.validation import validate_spec

    unset = {field: value for field, value in profile_values.items() if field not in spec.model_fields_set}
    if not unset:
        return spec
    fields = {**unset, **{name: getattr(spec, name) for name in spec.model_fields_set}}
    return validate_spec(type(spec), fields, flow="cluster profile", step=None, decorator="profile")


def explain(flow_cls: type, profile: ClusterProfile) -> dict[str, list[tuple[str, Any, str]]]:
    """For each step (and ``"(flow)"`` for the flow-wide fields): (field, effective value, where it came from)."""
    from flowkit.authoring.step import declared_step_specs, find_steps
    from flowkit.specs.resolve import class_level_specs

    on_class = class_level_specs(flow_cls)
    argo = profile.argo_options(flow_cls)
    flow_rows = [
        (field, getattr(argo, field), _source(field, {}, on_class, ("argo",), profile.sources)) for field in ARGO_FIELDS
    ]
    explained = {"(flow)": [*flow_rows, ("argo_version", profile.argo_version.value, _described(profile.argo_version))]}
    specs = profile.step_specs(flow_cls)
    for step, function in find_steps(flow_cls).items():
        kubernetes = specs[step].kubernetes
        on_step = declared_step_specs(function)
        rows = [
            (field, getattr(kubernetes, field), _source(field, on_step, on_class, ("kubernetes",), profile.sources))
            for field in KUBERNETES_FIELDS
        ]
        for field, fallback in (("cpu", profile.cpu), ("memory", profile.memory)):
            requested = getattr(kubernetes, field)
            if requested is None:
                rows.append((field, fallback.value, _described(fallback)))
            else:
                rows.append((field, requested, _source(field, on_step, on_class, ("kubernetes", "resources"), {})))
        explained[step] = rows
    return explained


def _source(
    field: str,
    on_step: Mapping[str, Any],
    on_class: Mapping[str, Any],
    decorators: tuple[str, ...],
    profile_sources: Mapping[str, str],
) -> str:
    """The strongest place that sets ``field``: a step decorator, a class decorator, the profile, or the built-in."""
    for level, declared in (("step", on_step), ("class", on_class)):
        for decorator in decorators:
            spec = declared.get(decorator)
            if spec is not None and field in spec.model_fields_set:
                return f"{level} decorator @{decorator}"
    if field in profile_sources:
        return f"profile: {profile_sources[field]}"
    return "built-in default"


def _described(resolved: settings.Resolved) -> str:
    return "built-in default" if resolved.source == "default" else f"profile: {resolved.source}"
