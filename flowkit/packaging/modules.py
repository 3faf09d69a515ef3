"""Where each imported module will come from in the pod, which decides how the flow is pickled.

A module can be found in the pod in three ways: it is part of the shipped project (importable because its import
root inside the project goes on ``sys.path``), it is part of the shipped runtime (flowkit, cloudpickle), or it is
installed in the image (the standard library and site-packages). Anything else (a module beside the project, an
editable install of a sibling repository, a file loaded under a name that does not match its path) does not exist
in the pod, so cloudpickle must carry it by value.

An environment inside the project (a ``.venv``, a conda env, any ``site-packages`` or ``dist-packages``) holds
installed dependencies even when it is not the running interpreter's (a notebook kernel that put a project's
``.venv`` on ``sys.path``): they are never shipped (see the ignore rules), never pickled by value, and expected in
the image like any installed package.
"""

from __future__ import annotations

import importlib.machinery
import os
import site
import sys
import sysconfig
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

from flowkit.packaging.ignore import ENVIRONMENT_DIR_MARKERS

# Shipped in the package's lib/ directory, so always importable by reference.
SHIPPED_RUNTIME = ("flowkit", "cloudpickle")
# Longest first, so that "mod.cpython-311-x86_64-linux-gnu.so" is not read as "mod.cpython-311-x86_64-linux-gnu".
_MODULE_SUFFIXES = sorted(
    {*importlib.machinery.SOURCE_SUFFIXES, *importlib.machinery.EXTENSION_SUFFIXES}, key=len, reverse=True
)
INSTALLED_DIR_NAMES = frozenset({"site-packages", "dist-packages"})


@dataclass(frozen=True)
class ModulePlan:
    """How the client's imported modules map onto the pod."""

    # Directories inside the project (POSIX, relative to it, "" for the root) that must be on sys.path so that
    # every project module imports under the same name as here.
    import_roots: list[str]
    # Modules that exist only on this machine; they are registered with cloudpickle to be pickled by value.
    by_value: list[str]


def _installed_prefixes() -> tuple[str, ...]:
    paths = {sysconfig.get_paths()[key] for key in ("stdlib", "platstdlib", "purelib", "platlib")}
    paths.update(site.getsitepackages())
    paths.add(site.getusersitepackages())
    return tuple(os.path.realpath(path) + os.sep for path in paths)


def _import_root(module_name: str, module_file: str) -> str | None:
    """The directory that, on sys.path, makes ``module_file`` import as ``module_name``; None if none does."""
    parts = module_name.split(".")
    path = Path(module_file)
    suffix = next((suffix for suffix in _MODULE_SUFFIXES if path.name.endswith(suffix)), None)
    if suffix is None:
        return None
    stem = path.name[: -len(suffix)]
    if stem == "__init__":
        path = path.parent
        stem = path.name
    if stem != parts[-1]:
        return None
    for parent_name in reversed(parts[:-1]):
        path = path.parent
        if path.name != parent_name:
            return None
    return str(path.parent)


def _relative_to(path: str, root: str) -> str | None:
    if path == root:
        return ""
    if path.startswith(root + os.sep):
        return Path(path[len(root) + 1 :]).as_posix()
    return None


class _EnvironmentDirs:
    """Answers "is this directory inside an environment within the project?", memoized per directory.

    Thousands of modules share a few hundred directories, so each directory is looked at (a few ``stat`` calls)
    once per plan.
    """

    def __init__(self, root: str) -> None:
        self.root = root
        self._known: dict[str, bool] = {}

    def contains(self, directory: str) -> bool:
        if directory == self.root or not directory.startswith(self.root + os.sep):
            return False
        known = self._known.get(directory)
        if known is None:
            known = (
                os.path.basename(directory) in INSTALLED_DIR_NAMES
                or any(os.path.exists(os.path.join(directory, marker)) for marker in ENVIRONMENT_DIR_MARKERS)
                or self.contains(os.path.dirname(directory))
            )
            self._known[directory] = known
        return known


def _module_file(module: ModuleType) -> str | None:
    module_file = getattr(module, "__file__", None)
    return os.path.realpath(module_file) if isinstance(module_file, str) else None


def plan_modules(project_root: Path, flow_file: Path | None) -> ModulePlan:
    """Classify every module imported in this process against ``project_root``.

    The directory of the flow file is always an import root, as it is for ``python myflow.py``.
    """
    root = os.path.realpath(project_root)
    installed = _installed_prefixes()
    environments = _EnvironmentDirs(root)
    flow_dir = _relative_to(os.path.realpath(flow_file.parent), root) if flow_file is not None else None
    import_roots: set[str] = set()
    by_value: set[str] = set()
    for name, module in list(sys.modules.items()):
        module_file = _module_file(module) if module is not None else None
        # Installed modules come from the image even when the environment lives inside the project (a .venv).
        if (
            name == "__main__"
            or module_file is None
            or name.split(".")[0] in SHIPPED_RUNTIME
            or module_file.startswith(installed)
            or environments.contains(os.path.dirname(module_file))
        ):
            continue
        if _relative_to(module_file, root) is not None:
            base = _import_root(name, module_file)
            relative_base = _relative_to(base, root) if base is not None else None
            if relative_base is None:
                by_value.add(name)
            else:
                import_roots.add(relative_base)
        else:
            by_value.add(name.split(".")[0] if _import_root(name, module_file) is not None else name)
    # The flow file's directory first (as sys.path[0] for `python myflow.py`), then deeper roots before shallower
    # ones, the project root last; sorted, so the order never depends on import order.
    others = sorted(import_roots - {flow_dir}, key=lambda entry: (entry == "", -entry.count("/"), entry))
    return ModulePlan(([flow_dir] if flow_dir is not None else []) + others, sorted(by_value))
