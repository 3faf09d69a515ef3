"""flowkit: write a workflow once as a Python class; run it locally or on Argo Workflows.

The public names are resolved lazily (PEP 562) so that ``import flowkit`` costs only what a flow file needs:
the local runtime, the Argo compiler and the Kubernetes client load when a command first uses them.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from flowkit.cli.user_errors import install_script_hook

__version__ = "0.1.0"

# public name -> module that defines it
_EXPORTS: dict[str, str] = {
    "Flow": "flowkit.authoring.flow",
    "FlowSpec": "flowkit.authoring.flow",
    "step": "flowkit.authoring.step",
    "Parameter": "flowkit.authoring.parameter",
    "JSONType": "flowkit.authoring.parameter",
    "Config": "flowkit.authoring.config",
    "config_expr": "flowkit.authoring.config",
    "IncludeFile": "flowkit.authoring.include_file",
    "current": "flowkit.authoring.current",
    "kubernetes": "flowkit.specs.decorators",
    "resources": "flowkit.specs.decorators",
    "retry": "flowkit.specs.decorators",
    "timeout": "flowkit.specs.decorators",
    "environment": "flowkit.specs.decorators",
    "catch": "flowkit.specs.decorators",
    "conda": "flowkit.specs.decorators",
    "conda_base": "flowkit.specs.decorators",
    "pypi": "flowkit.specs.decorators",
    "pypi_base": "flowkit.specs.decorators",
    "argo": "flowkit.specs.decorators",
    "schedule": "flowkit.specs.decorators",
    "card": "flowkit.cards.decorator",
    "project": "flowkit.specs.decorators",
    "Run": "flowkit.client",
    "Step": "flowkit.client",
    "Task": "flowkit.client",
    "DataArtifact": "flowkit.client",
    "Metaflow": "flowkit.client",
    "namespace": "flowkit.client",
    "get_namespace": "flowkit.client",
    "default_namespace": "flowkit.client",
    "get_metadata": "flowkit.client",
    "FlowkitError": "flowkit.errors",
    "FlowDefinitionError": "flowkit.errors",
    "ExceptionWrapper": "flowkit.errors",
}

__all__ = [
    "Config",
    "DataArtifact",
    "ExceptionWrapper",
    "Flow",
    "FlowDefinitionError",
    "FlowSpec",
    "FlowkitError",
    "IncludeFile",
    "JSONType",
    "Metaflow",
    "Parameter",
    "Run",
    "Step",
    "Task",
    "__version__",
    "argo",
    "card",
    "catch",
    "conda",
    "conda_base",
    "config_expr",
    "current",
    "default_namespace",
    "environment",
    "get_metadata",
    "get_namespace",
    "kubernetes",
    "namespace",
    "project",
    "pypi",
    "pypi_base",
    "resources",
    "retry",
    "schedule",
    "step",
    "timeout",
]

if TYPE_CHECKING:
    from flowkit.authoring.config import Config, config_expr
    from flowkit.authoring.current import current
    from flowkit.authoring.flow import Flow, FlowSpec
    from flowkit.authoring.include_file import IncludeFile
    from flowkit.authoring.parameter import JSONType, Parameter
    from flowkit.authoring.step import step
    from flowkit.cards.decorator import card
    from flowkit.client import (
        DataArtifact,
        Metaflow,
        Run,
        Step,
        Task,
        default_namespace,
        get_metadata,
        get_namespace,
        namespace,
    )
    from flowkit.errors import ExceptionWrapper, FlowDefinitionError, FlowkitError
    from flowkit.specs.decorators import (
        argo,
        catch,
        conda,
        conda_base,
        environment,
        kubernetes,
        project,
        pypi,
        pypi_base,
        resources,
        retry,
        schedule,
        timeout,
    )


def lazy_exports(
    module_name: str, exports: dict[str, str], public: list[str]
) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """The ``__getattr__`` and ``__dir__`` (PEP 562) of a package whose public names load on first use.

    `exports` maps each name to the module defining it; a loaded value is stored in the package, so the import runs
    once. Shared by ``flowkit`` and ``flowkit.specs``, whose spec models would otherwise import pydantic eagerly.
    """
    namespace = sys.modules[module_name].__dict__

    def __getattr__(name: str) -> Any:
        defining_module = exports.get(name)
        if defining_module is None:
            raise AttributeError(f"module {module_name!r} has no attribute {name!r}")
        # The import statement's machinery rather than importlib.import_module: the same module, and `-X importtime`
        # (which does not see import_module's) then reports it, so a measurement of the pod path leaves nothing out.
        __import__(defining_module)
        value = getattr(sys.modules[defining_module], name)
        namespace[name] = value
        return value

    def __dir__() -> list[str]:
        return sorted(public)

    return __getattr__, __dir__


__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS, __all__)
# `python flow.py ...`: an error in the flow file itself prints as one line with its file and line, not a traceback.
install_script_hook()
