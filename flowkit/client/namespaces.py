"""Namespaces, as Metaflow's client has them: which runs a notebook sees when it lists a flow's runs.

A namespace is a tag. By default it is ``user:NAME``, so ``Flow("X").latest_run`` is the latest run of this user,
not of a colleague sharing the datastore; ``namespace("project_branch:prod")`` switches to a `@project`'s production
runs and ``namespace(None)`` to every run. The choice is per process, like Metaflow's.
"""

from __future__ import annotations

from flowkit.authoring.run_context import current_user
from flowkit.datastore import resolve_datastore_root

_UNSET = object()
_chosen: object = _UNSET


def default_namespace() -> str:
    """Go back to the default namespace, ``user:NAME``, and return it."""
    global _chosen
    _chosen = _UNSET
    return f"user:{current_user()}"


def namespace(name: str | None) -> str | None:
    """Switch the namespace of every listing in this process; None lists every run. Returns the namespace."""
    global _chosen
    if name is not None and (not isinstance(name, str) or not name):
        raise TypeError(f"a namespace is a tag such as 'user:alice', or None for every run; got {name!r}")
    _chosen = name
    return name


def get_namespace() -> str | None:
    """The namespace listings use now (None: every run)."""
    if _chosen is _UNSET:
        return f"user:{current_user()}"
    return _chosen  # type: ignore[return-value]


def get_metadata() -> str:
    """Where runs are read from, in Metaflow's ``provider@location`` form: ``local@/path/to/.flowkit``."""
    return f"local@{resolve_datastore_root()}"
