"""The pickled flow class: the one piece of a package that is code in pickle form, and therefore hashed apart.

cloudpickle's output is not byte-stable across processes, so it never feeds the package id; it gets its own sha256,
which the pod verifies before unpickling. How each referenced module travels is decided by ``plan_modules``: a class
in ``__main__`` (a script or a notebook, including helpers defined in other cells) goes by value, modules of the
project by reference (the pod imports the shipped files), and local modules that the pod will not have by value.
"""

from __future__ import annotations

import hashlib
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import cloudpickle

from flowkit.graph import build_graph
from flowkit.packaging.modules import plan_modules
from flowkit.packaging.project import flow_source_file, resolve_project_root
from flowkit.specs import resolve_step_specs

PICKLE_PROTOCOL = 5


@dataclass(frozen=True)
class Payload:
    """cloudpickle bytes of a flow class and their sha256."""

    data: bytes
    sha256: str


@contextmanager
def _pickled_by_value(module_names: list[str]) -> Iterator[None]:
    """Register modules with cloudpickle for the duration of one dump, leaving the user's own registrations alone.

    cloudpickle registers a module under its ``__name__``, which an alias in ``sys.modules`` does not share
    (``requests.packages.chardet`` is ``charset_normalizer``): each real name is registered, and unregistered, once.
    """
    already = set(cloudpickle.list_registry_pickle_by_value())
    modules = {module.__name__: module for name in module_names if (module := sys.modules.get(name)) is not None}
    added = [module for real_name, module in modules.items() if real_name not in already and real_name in sys.modules]
    for module in added:
        cloudpickle.register_pickle_by_value(module)
    try:
        yield
    finally:
        for module in added:
            cloudpickle.unregister_pickle_by_value(module)


def build_payload(flow_cls: type, project_root: str | Path | None = None) -> Payload:
    """Pickle ``flow_cls`` for the pod.

    The graph and resolved specs are computed first: they are cached in the class's own ``__dict__``, so a class
    pickled by value carries them into the pod, where its source cannot be read again.
    """
    build_graph(flow_cls)
    resolve_step_specs(flow_cls)
    flow_file = flow_source_file(flow_cls)
    plan = plan_modules(resolve_project_root(flow_file, project_root), flow_file)
    with _pickled_by_value(plan.by_value):
        data = cloudpickle.dumps(flow_cls, protocol=PICKLE_PROTOCOL)
    return Payload(data, hashlib.sha256(data).hexdigest())
