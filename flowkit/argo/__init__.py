"""The Argo compiler: a validated flow becomes Hera objects (a WorkflowTemplate, and a CronWorkflow on a schedule).

Importing this package does not import Hera; `compile_flow` does, when it runs.

`flowkit.argo` is also the name of the `@argo` class decorator (``from flowkit import argo``). Once this package
is imported, Python's import system binds the attribute ``flowkit.argo`` to the package, so a later
``from flowkit import argo`` would return the package and ``@argo(...)`` would fail with "'module' object is not
callable". Calling the package therefore applies the decorator: both meanings of the name keep working, in any
import order.
"""

from __future__ import annotations

import sys
import types
from typing import Any

from flowkit.argo.compiler import ArgoManifests, compile_flow

__all__ = ["ArgoManifests", "compile_flow"]


class _ArgoPackage(types.ModuleType):
    """This package, callable as the `@argo` decorator."""

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        from flowkit.authoring.decorators import argo

        return argo(*args, **kwargs)

    def __repr__(self) -> str:
        return "<flowkit.argo: the Argo compiler package, and the @argo decorator when called>"


sys.modules[__name__].__class__ = _ArgoPackage
