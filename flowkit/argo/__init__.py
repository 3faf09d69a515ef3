"""The Argo compiler: a validated flow becomes Hera objects (a WorkflowTemplate, and a CronWorkflow on a schedule).

Importing this package does not import Hera; `compile_flow` does, when it runs.
"""

from __future__ import annotations

from flowkit.argo.compiler import ArgoManifests, compile_flow

__all__ = ["ArgoManifests", "compile_flow"]
