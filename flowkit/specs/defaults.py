"""The spec models' defaults as JSON dumps, for steps that declare no spec (read without pydantic).

Generated from the models by ``python -m flowkit.specs.generate_defaults``; do not edit.
"""

from typing import Any

KUBERNETES: dict[str, Any] = {
    "image": None,
    "image_pull_policy": None,
    "cpu": None,
    "memory": None,
    "gpu": 0,
    "gpu_resource_name": "nvidia.com/gpu",
    "disk": None,
    "shared_memory": None,
    "pvc": {},
    "service_account": None,
    "node_selector": {},
    "tolerations": [],
    "env": {},
    "namespace": None,
    "labels": {},
    "annotations": {},
    "python": None,
}
"""A step without @kubernetes."""

RETRY: dict[str, Any] = {
    "times": 0,
    "minutes_between_retries": 2.0,
    "backoff_factor": None,
}
"""A step without @retry runs once."""
