"""A step's resolved settings as short lines ("cpu 2", "retry 3"), for diagrams and pictures of a flow.

Only what was set, or what differs from the defaults, is listed, so a step with no decorators reads as plain. It
reads the spec's JSON form (``StepSpec.model_dump(mode="json")``), which is also what every commit record carries, so
`show` and the web UI (which has records, not the flow class) describe a step the same way.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def pod_settings(spec: Mapping[str, Any]) -> list[str]:
    pod = spec.get("kubernetes") or {}
    lines = [f"image {pod['image']}"] if pod.get("image") else []
    lines += [f"{name} {pod[key]}" for name, key in _QUANTITIES if pod.get(key)]
    lines += [f"gpu {pod['gpu']}"] if pod.get("gpu") else []
    lines += [f"pvc {claim}:{path}" for claim, path in (pod.get("pvc") or {}).items()]
    lines += [f"node {key}={value}" for key, value in (pod.get("node_selector") or {}).items()]
    retries = (spec.get("retry") or {}).get("times")
    lines += [f"retry {retries}"] if retries else []
    timeout = spec.get("timeout")
    if timeout:
        seconds = (
            (timeout.get("seconds") or 0) + 60 * (timeout.get("minutes") or 0) + 3600 * (timeout.get("hours") or 0)
        )
        lines.append(f"timeout {seconds:g} s")
    catch = spec.get("catch")
    lines += ["catch" + (f" -> {catch['var']}" if catch.get("var") else "")] if catch else []
    lines += ["conda environment"] if spec.get("conda") else []
    return lines


_QUANTITIES = (("cpu", "cpu"), ("memory", "memory"), ("disk", "disk"), ("shm", "shared_memory"))
