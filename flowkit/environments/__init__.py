"""Reproducible environments: conda-lock lockfiles, the environment id, environment images and PVC materialization.

conda-lock is optional (`pip install 'flowkit[conda]'`) and imported only by the functions that read, render or
write lockfiles.
"""

from __future__ import annotations

from flowkit.environments.pod import PodEnvironmentPlan, plan_pod_environment, plan_pod_environments

__all__ = ["PodEnvironmentPlan", "plan_pod_environment", "plan_pod_environments"]
