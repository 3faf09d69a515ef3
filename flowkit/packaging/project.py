"""Locating the flow's source file and the project it belongs to."""

from __future__ import annotations

import sys
from pathlib import Path

from flowkit.errors import FlowkitError


def flow_source_file(flow_cls: type) -> Path | None:
    """The file that defines ``flow_cls``, or None for a class typed into a notebook or an interactive session.

    The module's own ``__file__`` is used rather than ``inspect.getsourcefile``, which for a notebook cell names a
    temporary file of the kernel rather than anything in the user's project.
    """
    module = sys.modules.get(flow_cls.__module__)
    module_file = getattr(module, "__file__", None)
    if not isinstance(module_file, str) or not module_file.endswith(".py"):
        return None
    path = Path(module_file).resolve()
    return path if path.is_file() else None


def resolve_project_root(flow_file: Path | None, project_root: str | Path | None) -> Path:
    """The explicit root if given, else the nearest enclosing git checkout of the flow file, else its directory.

    A notebook-defined flow has no file; its working directory (where Jupyter starts the kernel: the notebook's
    directory) stands in for it.
    """
    if project_root is not None:
        root = Path(project_root).resolve()
        if not root.is_dir():
            raise FlowkitError(f"the project root {root} given for the code package is not a directory")
        return root
    start = flow_file.parent if flow_file is not None else Path.cwd().resolve()
    for candidate in (start, *start.parents):
        if (candidate / ".git").exists():
            return candidate
    return start
