"""Metaflow's ``metaflow_version`` module, for flows that record the version they ran with.

``from flowkit import metaflow_version`` and ``metaflow_version.get_version()`` keep working in a ported flow; the
version reported is flowkit's.
"""

from __future__ import annotations


def get_version(public: bool = False) -> str:
    """flowkit's version (`public` is accepted for Metaflow's signature: there is no private build suffix)."""
    from flowkit import __version__

    return __version__
