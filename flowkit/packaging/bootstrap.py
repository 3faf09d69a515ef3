"""The container command that runs one task from a published package, and the ConfigMap that delivers its scripts.

The bootstrap is a standard-library-only script (``bootstrap_script.py``, kept as a real file so that it is linted,
type-checked and importable by tests). It reaches the pod in a ConfigMap (`bootstrap_files`, a `PodFiles`) mounted
read-only at `BOOTSTRAP_DIR`, not on the command line: pasted into every container's command it made a WorkflowTemplate
grow by some 17 KB per distinct pod spec (Argo's 1 MiB workflow limit, etcd's 1.5 MiB request limit) and every pod
carry it twice. The same ConfigMap carries the other scripts a pod runs before flowkit is importable: the one that
finds the image's Python and the conda materializer of environments built on the shared volume
(`flowkit.environments.materialize`), so one mount serves them all. The ConfigMap's name is its content's SHA-256
(`flowkit.pod_files`), so a template names exactly the scripts it was compiled with and deploys of different flowkit
versions never overwrite each other's. Trust is unchanged: what runs before any check (the scripts, and everything
the bootstrap must trust: the digests, the flow's reference, or the Python and cloudpickle versions a pickled flow
needs, on its command line) comes from objects the API server protects, the ConfigMap and the workflow spec; the
shared volume only supplies bytes that are checked against those values.

The interpreter is found, not assumed: Debian, Ubuntu and CUDA images have ``python3`` but often no ``python``, a
Miniconda image has both, and some images keep Python elsewhere. Unless the step names one
(``@kubernetes(python=...)``), a short ``/bin/sh`` script (`FIND_PYTHON_SCRIPT`, another file of the ConfigMap) runs
``python3``, else ``python``, and an image with neither fails with one line naming the image and the step, under
the bootstrap's own exit code, which the pods' retryStrategy does not retry.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from flowkit.environments.materialize import MATERIALIZE_FILE, script_source
from flowkit.packaging.bootstrap_script import EXIT_BOOTSTRAP_FAILED, BootstrapOptions
from flowkit.packaging.publish import PackageRef
from flowkit.pod_files import PodFiles, content_name

SCRIPT_PATH = Path(__file__).with_name("bootstrap_script.py")
BOOTSTRAP_DIR = "/flowkit-bootstrap"
"""Where the bootstrap ConfigMap is mounted in every container."""
BOOTSTRAP_FILE = "bootstrap.py"
FIND_PYTHON_FILE = "find-python.sh"
"""The ConfigMap's keys, and so the scripts' file names under `BOOTSTRAP_DIR` (with `MATERIALIZE_FILE`)."""
CONFIG_MAP_NAME_PREFIX = "flowkit-bootstrap-"

FIND_PYTHON_SCRIPT = f"""\
image=$1 step=$2
shift 2
for python in python3 python; do
    command -v "$python" >/dev/null 2>&1 && exec "$python" "$@"
done
echo "flowkit bootstrap: the image $image has no python3 or python on its PATH (step $step): use an image with \
CPython 3.10 or newer, or name its interpreter with @kubernetes(python=...)" >&2
exit {EXIT_BOOTSTRAP_FAILED}
"""
"""``/bin/sh`` script: ``$1`` the image, ``$2`` the step, then the interpreter's arguments."""


def interpreter_command(python: str | None, *, image: str, step: str, scripts_dir: str = BOOTSTRAP_DIR) -> list[str]:
    """The command that starts the bootstrap's interpreter: ``python`` when the step names one, else the image's
    ``python3`` or ``python`` as `FIND_PYTHON_SCRIPT` finds it (``image`` and ``step`` name a failure).

    ``scripts_dir`` holds the ConfigMap's files: its mount in a pod, or where `bootstrap_files` were written.
    """
    if python is not None:
        return [python]
    return ["/bin/sh", f"{scripts_dir}/{FIND_PYTHON_FILE}", image, step]


@functools.cache
def bootstrap_script() -> str:
    """The bootstrap's source text, read once per process."""
    return SCRIPT_PATH.read_text(encoding="utf-8")


@functools.cache
def bootstrap_files() -> PodFiles:
    """The ConfigMap every container of a compiled flow mounts at `BOOTSTRAP_DIR`: file name → script."""
    scripts = {
        BOOTSTRAP_FILE: bootstrap_script(),
        FIND_PYTHON_FILE: FIND_PYTHON_SCRIPT,
        MATERIALIZE_FILE: script_source(),
    }
    return PodFiles(content_name(CONFIG_MAP_NAME_PREFIX, scripts), "bootstrap", BOOTSTRAP_DIR, scripts)


def bootstrap_config_map_name() -> str:
    """``flowkit-bootstrap-<sha256 of the files>``: content-addressed, so equal scripts share one ConfigMap."""
    return bootstrap_files().name


def bootstrap_config_map(namespace: str | None) -> dict[str, Any]:
    """The ConfigMap manifest holding the bootstrap's scripts, in ``namespace`` (None: the cluster's default)."""
    return bootstrap_files().config_map(namespace)


def bootstrap_command(
    ref: PackageRef,
    task_argv: list[str],
    *,
    datastore_mount: str,
    python: str | Sequence[str] = "python",
    cache_dir: str | None = None,
    script: str = f"{BOOTSTRAP_DIR}/{BOOTSTRAP_FILE}",
) -> list[str]:
    """``[python, <mounted script>, <bootstrap options>, "--", *task_argv]`` for the task described by ``task_argv``.

    ``python`` is the interpreter (a name or a path), or the command that starts one (`interpreter_command`).

    ``datastore_mount`` is where the datastore volume is mounted in the container; the ref's paths are relative to
    it. ``cache_dir`` is where extractions are cached (an emptyDir or node-local directory); by default the
    bootstrap uses the `PACKAGE_CACHE` setting (`flowkit.settings`). ``script`` is where the bootstrap script is:
    in a pod, its ConfigMap's mount; a command run on this machine passes `SCRIPT_PATH`.
    """
    options = BootstrapOptions(
        datastore_root=datastore_mount,
        package_id=ref.package_id,
        archive=ref.archive_path,
        archive_sha256=ref.archive_sha256,
        flow=ref.flow_reference,
        payload=ref.payload_path,
        payload_sha256=ref.payload_sha256,
        python_version=ref.python_version,
        cloudpickle_version=ref.cloudpickle_version,
        cache_dir=cache_dir,
    )
    interpreter = [python] if isinstance(python, str) else list(python)
    return [*interpreter, script, *options.to_argv(task_argv)]
