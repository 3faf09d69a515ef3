"""The command wrapper that materializes a locked environment on the shared PVC before a task runs.

The wrapper is ``python3 <scripts>/materialize.py --envs-dir <mount>/envs --env-id <id> --files-dir
/flowkit-environment --``, followed by the task command. Neither the script nor what it installs is on the command
line: pasted there they made every such pod's command some 11 KB (10 KB of script, the rest the compressed explicit
files) and a WorkflowTemplate grow by as much per distinct pod spec. The script ships with the package bootstrap in
its ConfigMap (`flowkit.packaging.bootstrap`, mounted at ``<scripts>``), and the rendered explicit files of each
environment in a ConfigMap of their own (`environment_files`), named by the environment id (the digest of what they
install) and mounted read-only at `ENVIRONMENT_DIR`. The pod builds the environment before anything is read from the
shared volume, the emitted manifests show exactly what will be installed, and the script still refuses files that do
not hash to the id on the command line: both come from objects the API server protects, as they did as arguments.
"""

from __future__ import annotations

import posixpath
from functools import cache
from pathlib import Path

from flowkit.environments import materialize_script
from flowkit.environments.lockfile import RenderedEnvironment
from flowkit.pod_files import PodFiles

#: The interpreter that runs the wrapper: the pod image's own Python (Miniconda provides one), not the environment's.
WRAPPER_PYTHON = "python3"
MATERIALIZE_FILE = "materialize.py"
"""The script's file name in the bootstrap ConfigMap."""
ENVIRONMENT_DIR = "/flowkit-environment"
"""Where a PVC-built environment's explicit files are mounted."""


@cache
def script_source() -> str:
    """The source of the stdlib-only script, as the bootstrap ConfigMap ships it."""
    return Path(materialize_script.__file__).read_text(encoding="utf-8")


def envs_directory(datastore_mount: str) -> str:
    """Where environments live on the PVC: the datastore's `envs/`."""
    return posixpath.join(datastore_mount, "envs")


def environment_files(environment: RenderedEnvironment) -> PodFiles:
    """The ConfigMap holding ``environment``'s explicit conda file and pip requirements, mounted at
    `ENVIRONMENT_DIR`. Optional: a pod whose ConfigMap is missing starts, and the script says which one it lacks."""
    files = {
        materialize_script.EXPLICIT_FILE: environment.conda_explicit,
        materialize_script.PIP_FILE: environment.pip_requirements,
    }
    name = materialize_script.config_map_name(environment.env_id)
    return PodFiles(name, "environment", ENVIRONMENT_DIR, files, optional=True)


def materialize_command(environment: RenderedEnvironment, datastore_mount: str, *, scripts_dir: str) -> list[str]:
    """The prefix that builds (once per id) or reuses `environment` and then execs the rest of the command in it.

    ``scripts_dir`` is where the bootstrap ConfigMap, which holds the script, is mounted.
    """
    return [
        WRAPPER_PYTHON,
        posixpath.join(scripts_dir, MATERIALIZE_FILE),
        "--envs-dir",
        envs_directory(datastore_mount),
        "--env-id",
        environment.env_id,
        "--files-dir",
        ENVIRONMENT_DIR,
        "--",
    ]
