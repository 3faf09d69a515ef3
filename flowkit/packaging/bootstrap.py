"""The container command that runs one task from a published package.

The bootstrap is a standard-library-only script (``bootstrap_script.py``, kept as a real file so that it is linted,
type-checked and importable by tests) passed to ``python -c``. Everything it must trust (the digests, the flow's
reference, or the Python and cloudpickle versions a pickled flow needs) is on its command line, i.e. in the
workflow spec; the shared volume only supplies bytes that are checked against those values.

The interpreter is found, not assumed: Debian, Ubuntu and CUDA images have ``python3`` but often no ``python``, a
Miniconda image has both, and some images keep Python elsewhere. Unless the step names one
(``@kubernetes(python=...)``), a short ``/bin/sh`` script runs ``python3``, else ``python``, and an image with
neither fails with one line naming the image and the step, under the bootstrap's own exit code, which the pods'
retryStrategy does not retry.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from pathlib import Path

from flowkit.packaging.bootstrap_script import EXIT_BOOTSTRAP_FAILED, BootstrapOptions
from flowkit.packaging.publish import PackageRef

SCRIPT_PATH = Path(__file__).with_name("bootstrap_script.py")


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
"""``sh -c`` script: ``$1`` the image, ``$2`` the step, then the interpreter's arguments."""


def interpreter_command(python: str | None, *, image: str, step: str) -> list[str]:
    """The command that starts the bootstrap's interpreter: ``python`` when the step names one, else the image's
    ``python3`` or ``python`` as `FIND_PYTHON_SCRIPT` finds it (``image`` and ``step`` name a failure)."""
    if python is not None:
        return [python]
    return ["/bin/sh", "-c", FIND_PYTHON_SCRIPT, "flowkit", image, step]


@functools.cache
def bootstrap_script() -> str:
    """The bootstrap's source text, read once per process."""
    return SCRIPT_PATH.read_text(encoding="utf-8")


def bootstrap_command(
    ref: PackageRef,
    task_argv: list[str],
    *,
    datastore_mount: str,
    python: str | Sequence[str] = "python",
    cache_dir: str | None = None,
) -> list[str]:
    """``[python, "-c", script, <bootstrap options>, "--", *task_argv]`` for the task described by ``task_argv``.

    ``python`` is the interpreter (a name or a path), or the command that starts one (`interpreter_command`).

    ``datastore_mount`` is where the datastore volume is mounted in the container; the ref's paths are relative to
    it. ``cache_dir`` is where extractions are cached (an emptyDir or node-local directory); by default the
    bootstrap uses the `PACKAGE_CACHE` setting (`flowkit.settings`).
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
    return [*interpreter, "-c", bootstrap_script(), *options.to_argv(task_argv)]
