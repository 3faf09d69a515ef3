"""A step's resolved settings as short lines ("cpu 2", "retry 3"), for diagrams and pictures of a flow.

Only what was set, or what differs from the defaults, is listed, so a step with no decorators reads as plain.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from flowkit.specs.resolve import StepSpec


def pod_settings(spec: StepSpec) -> list[str]:
    pod = spec.kubernetes
    lines = [f"image {pod.image}"] if pod.image else []
    lines += [f"{name} {value}" for name, value in (("cpu", pod.cpu), ("memory", pod.memory)) if value]
    lines += [f"gpu {pod.gpu}"] if pod.gpu else []
    lines += [f"{name} {value}" for name, value in (("disk", pod.disk), ("shm", pod.shared_memory)) if value]
    lines += [f"pvc {claim}:{path}" for claim, path in pod.pvc.items()]
    lines += [f"node {key}={value}" for key, value in pod.node_selector.items()]
    lines += [f"retry {spec.retry.times}"] if spec.retry.times else []
    lines += [f"timeout {spec.timeout.total_seconds} s"] if spec.timeout is not None else []
    lines += ["catch" + (f" -> {spec.catch.var}" if spec.catch.var else "")] if spec.catch is not None else []
    lines += ["conda environment"] if spec.conda is not None else []
    return lines
