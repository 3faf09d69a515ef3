"""The Argo compiler: a validated flow becomes Hera objects (a WorkflowTemplate, and a CronWorkflow on a schedule).

Importing this package does not import Hera; `compile_flow` does, when it runs. The package is named after its job
rather than after Argo so that ``flowkit.argo`` stays free for the `@argo` class decorator.
"""

from __future__ import annotations

from flowkit.compiler.compiler import ArgoManifests, compile_flow

__all__ = ["ArgoManifests", "compile_flow"]
