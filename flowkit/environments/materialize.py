"""The command wrapper that materializes a locked environment on the shared PVC before a task runs.

The wrapper is `python3 -c <materialize_script source> --envs-dir <mount>/envs --env-id <id> --payload <files> --`,
followed by the task command. The rendered explicit files travel on the command line (compressed, base64) rather than
in the code package: the pod can build the environment before anything else is downloaded, the emitted workflow
shows exactly what will be installed, and the script verifies that the payload hashes to the id it was given.
"""

from __future__ import annotations

import posixpath
from functools import cache
from pathlib import Path

from flowkit.environments import materialize_script
from flowkit.environments.lockfile import RenderedEnvironment

#: The interpreter that runs the wrapper: the pod image's own Python (Miniconda provides one), not the environment's.
WRAPPER_PYTHON = "python3"


@cache
def script_source() -> str:
    """The source of the stdlib-only script, as passed to `python3 -c`."""
    return Path(materialize_script.__file__).read_text(encoding="utf-8")


def envs_directory(datastore_mount: str) -> str:
    """Where environments live on the PVC: the datastore's `envs/`."""
    return posixpath.join(datastore_mount, "envs")


def materialize_command(environment: RenderedEnvironment, datastore_mount: str) -> list[str]:
    """The prefix that builds (once per id) or reuses `environment` and then execs the rest of the command in it."""
    payload = materialize_script.encode_payload(environment.conda_explicit, environment.pip_requirements)
    return [
        WRAPPER_PYTHON,
        "-c",
        script_source(),
        "--envs-dir",
        envs_directory(datastore_mount),
        "--env-id",
        environment.env_id,
        "--payload",
        payload,
        "--",
    ]
