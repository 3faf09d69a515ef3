"""How the flow class reaches the pod: by reference into the shipped source, or pickled by value.

A flow defined in a file of the project travels by reference: the pod imports the flow's module from the shipped
source (under its module name, never as ``__main__``) and takes the class from it, so the pod's Python may be any
that runs the user's code, whatever Python built the package. Only a class without such a file (typed into a
notebook, or needing modules that exist only on this machine) is cloudpickled by value, which ties it to this
Python's minor version: a pickle from another version can crash the interpreter.

cloudpickle's output is not byte-stable across processes, so a pickle never feeds the package id; it gets its own
sha256, which the pod verifies before unpickling. How each referenced module travels inside a pickle is decided by
``plan_modules``: a class in ``__main__`` (including helpers defined in other notebook cells) goes by value, modules
of the project by reference (the pod imports the shipped files), and local modules that the pod will not have by
value.
"""

from __future__ import annotations

import hashlib
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import cloudpickle

from flowkit.graph import build_graph
from flowkit.packaging.modules import ModulePlan, plan_modules
from flowkit.packaging.project import flow_source_file, resolve_project_root
from flowkit.specs import resolve_step_specs

PICKLE_PROTOCOL = 5


@dataclass(frozen=True)
class Payload:
    """The flow class for the pod: a ``module:Qualname`` reference, or cloudpickle bytes and their sha256."""

    data: bytes
    sha256: str
    reference: str | None = None

    @property
    def by_value(self) -> bool:
        return self.reference is None


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
    """How ``flow_cls`` travels to the pod: by reference when its file is part of the project, else by value.

    The graph and resolved specs are computed first (and so validated): they are cached in the class's own
    ``__dict__``, so a class pickled by value carries them into the pod, where its source cannot be read again.
    """
    build_graph(flow_cls)
    resolve_step_specs(flow_cls)
    flow_file = flow_source_file(flow_cls)
    root = resolve_project_root(flow_file, project_root)
    plan = plan_modules(root, flow_file)
    reference = flow_reference(flow_cls, flow_file, root, plan)
    if reference is not None:
        return Payload(b"", "", reference)
    with _pickled_by_value(plan.by_value):
        data = _dumps_without_spec_models(flow_cls)
    return Payload(data, hashlib.sha256(data).hexdigest())


def flow_reference(flow_cls: type, flow_file: Path | None, project_root: Path, plan: ModulePlan) -> str | None:
    """``module:Qualname`` under which the pod can import ``flow_cls`` from the shipped project, or None.

    A flow run as a script lives in ``__main__``; the pod imports the same file by its own name (the flow file's
    directory is the first import root, as for ``python myflow.py``), so code under ``if __name__ == "__main__"``
    does not run there. None when the class has no file in the project, is defined inside a function, or its module
    uses modules that exist only on this machine (those must be pickled along).
    """
    if flow_file is None or not flow_file.is_relative_to(project_root) or "<locals>" in flow_cls.__qualname__:
        return None
    module = sys.modules.get(flow_cls.__module__)
    if module is None or _uses_local_only_modules(module, set(plan.by_value)):
        return None
    module_name = flow_cls.__module__
    if module_name == "__main__":
        spec = getattr(module, "__spec__", None)
        module_name = spec.name if spec is not None else flow_file.stem  # `python -m package.flow` keeps its name
    if not all(part.isidentifier() for part in module_name.split(".")):
        return None
    return f"{module_name}:{flow_cls.__qualname__}"


def _uses_local_only_modules(module: ModuleType, local_only: set[str]) -> bool:
    """Whether ``module``'s globals hold a module, function or class from a module the pod will not have."""

    def home(value: object) -> str | None:
        name = value.__name__ if isinstance(value, ModuleType) else getattr(value, "__module__", None)
        return name if isinstance(name, str) else None

    homes = {home(value) for value in vars(module).values()}
    return any(name in local_only or name.split(".")[0] in local_only for name in homes if name is not None)


def _dumps_without_spec_models(flow_cls: type) -> bytes:
    """cloudpickle ``flow_cls``, its validated spec models replaced by plain views of their fields.

    The pod unpickles the class without pydantic (the image has none); it reads its specs from the package's
    manifest anyway, so the class only needs to carry their data.
    """
    import io

    from flowkit.specs.base import SpecModel
    from flowkit.specs.shipped import SpecView

    class Pickler(cloudpickle.Pickler):
        def reducer_override(self, obj: Any) -> Any:
            if isinstance(obj, SpecModel):
                return SpecView, (obj.model_dump(mode="json"),)
            return super().reducer_override(obj)

    buffer = io.BytesIO()
    Pickler(buffer, protocol=PICKLE_PROTOCOL).dump(flow_cls)
    return buffer.getvalue()
