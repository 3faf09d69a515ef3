"""The container command that runs one task from a published package.

The bootstrap is a standard-library-only script (``bootstrap_script.py``, kept as a real file so that it is linted,
type-checked and importable by tests) passed to ``python -c``. Everything it must trust (the digests, the flow's
reference, or the Python and cloudpickle versions a pickled flow needs) is on its command line, i.e. in the
workflow spec; the shared volume only supplies bytes that are checked against those values.
"""

from __future__ import annotations

import functools
from pathlib import Path

from flowkit.packaging.bootstrap_script import BootstrapOptions
from flowkit.packaging.publish import PackageRef

SCRIPT_PATH = Path(__file__).with_name("bootstrap_script.py")


@functools.cache
def bootstrap_script() -> str:
    """The bootstrap's source text, read once per process."""
    return SCRIPT_PATH.read_text(encoding="utf-8")


def bootstrap_command(
    ref: PackageRef,
    task_argv: list[str],
    *,
    datastore_mount: str,
    python: str = "python",
    cache_dir: str | None = None,
) -> list[str]:
    """``[python, "-c", script, <bootstrap options>, "--", *task_argv]`` for the task described by ``task_argv``.

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
    return [python, "-c", bootstrap_script(), *options.to_argv(task_argv)]
