"""Feature engineering kept in its own module, as a real project would, rather than inside the flow file."""

from __future__ import annotations


def build(values: list[float], *, degree: int = 2) -> list[list[float]]:
    """Polynomial features of each value: ``[v, v**2, ..., v**degree]``."""
    return [[value**power for power in range(1, degree + 1)] for value in values]
