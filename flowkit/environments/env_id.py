"""The environment id and the names derived from it.

An environment is named by what gets installed: the sha256 of its rendered explicit files (see
`materialize_script.environment_id`), not by conda-lock's input hash, which changes with the declaration's wording
and stays the same when a re-lock picks newer builds. The same id names the image tag, the directory on the PVC, the
pod label/annotation and the `ENVIRONMENT_ID` setting every run and task records (`flowkit.settings`).
"""

from __future__ import annotations

from flowkit.environments.materialize_script import environment_id

__all__ = [
    "ENVIRONMENT_ID_ANNOTATION",
    "ENVIRONMENT_ID_LABEL",
    "environment_id",
    "image_reference",
    "short_id",
]

ENVIRONMENT_ID_ANNOTATION = "flowkit.io/environment-id"
ENVIRONMENT_ID_LABEL = "flowkit.io/environment-id"

_SHORT_ID_LENGTH = 16


def short_id(env_id: str) -> str:
    """The id's first 16 hex digits: Kubernetes label values are limited to 63 characters, a sha256 has 64."""
    return env_id[:_SHORT_ID_LENGTH]


def image_reference(repository: str, env_id: str) -> str:
    """The image that holds environment `env_id`: one lock always names one image."""
    return f"{repository}:{env_id}"
