"""The first code a flowkit pod runs: verify the code package, unpack it, then hand the task to flowkit.

The image's Python runs it from a read-only ConfigMap mount, so it may use only the standard library until
verification is done:
the image holds no flowkit of its own; flowkit and cloudpickle come out of the package being verified, and
everything after this script runs on the standard library plus the package (any CPython 3.10+ will do). The order
matters:

1. for a flow pickled by value only, the Python minor version (a pickle from another version can crash the
   interpreter outright); a flow travelling by reference is imported from the shipped source by any Python;
2. the archive's (and payload's) sha256 against the values on the command line, which come from the workflow spec
   that the Kubernetes API server protects, rather than from the shared volume that any pod could write;
3. a safe extraction into a pod-local cache keyed by package id (an allow-list of names and types on top of
   tarfile's ``data`` filter, which has had bypasses), into a temporary directory that is renamed into place only
   once every file matched the manifest, so a concurrent or interrupted extraction is never trusted;
4. the shipped code first on ``sys.path``, and the cloudpickle and flowkit that will be used checked to be the
   shipped ones; the flow's graph and resolved specs, validated when the package was built, installed from the
   manifest (``flowkit.specs.shipped``), so nothing on the pod path needs pydantic;
5. only then the flow's module is imported (or the payload unpickled) and ``flowkit.task.cli.main`` runs the task,
   with line-buffered output so that each line reaches the pod's log when it is printed.

Usage: ``python <this file> --datastore-root R --package-id ID --archive PATH --archive-sha256 H
(--flow MODULE:CLASS | --payload PATH --payload-sha256 H --python-version X.Y --cloudpickle-version V)
[--cache-dir D] -- <task argv>``; `BootstrapOptions` declares these options once, for the builder of the command
(`flowkit.packaging.bootstrap`) and for this parser.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import sys
from typing import Any, NamedTuple

EXIT_BOOTSTRAP_FAILED = 3
EXIT_DATASTORE_UNWRITABLE = 77
"""A pod cannot write the datastore: a setup problem that no retry fixes, so the retryStrategy excludes this code
(BSD's EX_NOPERM). ``flowkit.errors.EXIT_DATASTORE_UNWRITABLE`` for the task CLI; this script cannot import flowkit,
so it states the same number (a test holds them equal)."""
SHARED_UMASK = 0o002
"""Pods create files and directories group-writable, so pods of other uids in the same group (the pods' fsGroup)
can add beside them; the fsGroup-prepared volume's setgid directories keep that group on everything below."""
READY_MARKER = ".flowkit-ready.json"
ABANDONED_EXTRACTION_SECONDS = 3600
LOCK_SUFFIX = ".lock"  # beside the package's directory: .<package id>.lock
EXTRACTION_LOCK_WAIT_SECONDS = 120.0
# The archive's layout. The builder imports these names from here: the bootstrap cannot import anything.
MANIFEST_NAME = "manifest.json"
CODE_DIR = "code"  # the user's project
LIB_DIR = "lib"  # the shipped runtime: flowkit and cloudpickle
ALLOWED_TOP_DIRS = (CODE_DIR, LIB_DIR)
BY_VALUE_OPTIONS = ("payload", "payload_sha256", "python_version", "cloudpickle_version")
"""Required when no ``flow`` reference is given: what reading a pickled flow class takes."""


class BootstrapError(Exception):
    """The package cannot be run safely here; the message says why and what to change."""


UNWRITABLE_ERRNOS = (errno.EACCES, errno.EPERM, errno.EROFS)
"""Refusals that stay until someone changes the setup (``flowkit.errors.StorageError.permanent`` says the same)."""


def unwritable_message(error: OSError) -> str:
    """One line naming the directory that refused a write, its owner and mode, who tried, and the fix."""
    if error.errno == errno.EROFS:
        return (
            f"flowkit: the datastore is not writable: {error.filename} is on a read-only file system. Fix: mount "
            "the datastore claim read-write"
        )
    path = str(error.filename or "")
    directory = path if os.path.isdir(path) else os.path.dirname(path) or path
    try:
        status = os.stat(directory)
        owner = f"owned by uid {status.st_uid} gid {status.st_gid}, mode {status.st_mode & 0o7777:04o}"
    except OSError:
        owner = "not readable either"
    groups = ",".join(str(group) for group in sorted(os.getgroups())) or "none"
    return (
        f"flowkit: the datastore is not writable: {path} ({error.strerror}); {directory} is {owner}, and this pod "
        f"runs as uid {os.getuid()} gid {os.getgid()} (groups: {groups}). Fix: give the pods a group that may write "
        "it: @argo(fs_group=GID) on a block volume (the kubelet then makes the volume's root group-writable), or on "
        f"NFS `chgrp -R GID {directory} && chmod -R g+rwX,g+s {directory}` once"
    )


class BootstrapOptions(NamedTuple):
    """The bootstrap's own options: each field is a ``--field-name value`` pair before the ``--``.

    Everything the bootstrap trusts is here, i.e. in the workflow spec. A flow travels either by reference
    (``flow``) or pickled by value (``payload`` with its digest and the versions that must read it). A NamedTuple
    rather than a dataclass: importing ``dataclasses`` (and the ``inspect`` it loads) would cost every pod's start
    about 10 ms.
    """

    datastore_root: str
    package_id: str
    archive: str
    """The archive's path below ``datastore_root``."""
    archive_sha256: str
    flow: str | None = None
    """``module:Qualname`` of a flow imported from the shipped source."""
    payload: str | None = None
    """The pickled flow class's path below ``datastore_root``."""
    payload_sha256: str | None = None
    python_version: str | None = None
    cloudpickle_version: str | None = None
    cache_dir: str | None = None
    """Where extractions are cached (default ``$FLOWKIT_PACKAGE_CACHE`` or ``$TMPDIR/flowkit-packages``)."""

    def to_argv(self, task_argv: list[str]) -> list[str]:
        """The script's command-line arguments: these options, ``--``, then the task's own arguments."""
        words: list[str] = []
        for name, value in self._asdict().items():
            if value is not None:
                words += [_flag(name), value]
        return [*words, "--", *task_argv]


def _flag(field_name: str) -> str:
    return "--" + field_name.replace("_", "-")


def parse_arguments(argv: list[str]) -> tuple[BootstrapOptions, list[str]]:
    """Split ``--name value`` pairs before ``--`` from the task's own arguments after it."""
    if "--" not in argv:
        raise BootstrapError("missing '--' between the bootstrap options and the task arguments")
    split = argv.index("--")
    own, task_argv = argv[:split], argv[split + 1 :]
    if len(own) % 2:
        raise BootstrapError(f"bootstrap options must come in '--name value' pairs, got {own}")
    declared = {_flag(name): name for name in BootstrapOptions._fields}
    options: dict[str, str] = {}
    # Plain indexing rather than zip(strict=...): this must parse and run on any Python far enough to report a
    # version mismatch cleanly.
    for position in range(0, len(own), 2):
        flag, value = own[position], own[position + 1]
        if flag not in declared:
            raise BootstrapError(f"unknown bootstrap option {flag!r}")
        options[declared[flag]] = value
    required = [flag for flag, name in declared.items() if name not in BootstrapOptions._field_defaults]
    if "flow" not in options:
        required += [_flag(name) for name in BY_VALUE_OPTIONS]
    missing = [flag for flag in required if declared[flag] not in options]
    if missing:
        raise BootstrapError(f"missing bootstrap options: {', '.join(missing)}")
    return BootstrapOptions(**options), task_argv


def check_python_version(expected: str) -> None:
    actual = f"{sys.version_info.major}.{sys.version_info.minor}"
    if actual != expected:
        raise BootstrapError(
            f"the flow was pickled by value with Python {expected} (it has no source file in the project) but this "
            f"container runs Python {actual} ({sys.executable}), and a pickle from another Python version can crash "
            f"the interpreter: use an image with Python {expected}, or move the flow into a file"
        )


def file_sha256(path: str) -> str:
    import hashlib  # here, not at the top: a warm start (the package already extracted) hashes nothing

    digest = hashlib.sha256()
    try:
        with open(path, "rb") as stream:
            for block in iter(lambda: stream.read(1 << 20), b""):
                digest.update(block)
    except OSError as error:
        raise BootstrapError(f"cannot read {path}: {error}") from error
    return digest.hexdigest()


def check_digest(what: str, path: str, actual: str, expected: str) -> None:
    if actual != expected:
        raise BootstrapError(
            f"{what} {path} has sha256 {actual} but the workflow expects {expected}; it was modified or replaced "
            "after publishing, so nothing from it is loaded"
        )


def read_verified(what: str, path: str, expected_sha256: str) -> bytes:
    """The bytes of ``path``, after checking them against the digest from the workflow spec."""
    import hashlib

    try:
        with open(path, "rb") as stream:
            data = stream.read()
    except OSError as error:
        raise BootstrapError(f"cannot read the {what} {path}: {error}") from error
    check_digest(what, path, hashlib.sha256(data).hexdigest(), expected_sha256)
    return data


def member_problem(member: Any) -> str | None:
    """Why an archive member must not be extracted, or None. Only plain files and directories under code/, lib/."""
    name = member.name
    if not (member.isfile() or member.isdir()):
        return "is a link or a special file"
    if name.startswith("/") or "\\" in name or "\0" in name or ":" in name.split("/")[0]:
        return "is not a relative POSIX path"
    parts = name.split("/")
    if any(part in ("", ".", "..") for part in parts):
        return "has an empty, '.' or '..' component"
    if name != MANIFEST_NAME and (parts[0] not in ALLOWED_TOP_DIRS or len(parts) < 2):
        return "is outside code/ and lib/"
    if member.mode & 0o7000:
        return "has setuid, setgid or sticky bits"
    return None


def extract_archive(archive_path: str, target: str) -> None:
    """Extract after refusing any member that fails the allow-list, with tarfile's data filter as a second wall."""
    import tarfile

    with tarfile.open(archive_path, "r:gz") as tar:
        members = tar.getmembers()
        problems = [f"{member.name!r} {problem}" for member in members if (problem := member_problem(member))]
        if problems:
            raise BootstrapError(f"refusing to extract {archive_path}: " + "; ".join(problems[:5]))
        if hasattr(tarfile, "data_filter"):
            tar.extractall(target, members=members, filter="data")
        else:
            tar.extractall(target, members=members)


def check_against_manifest(target: str, package_id: str) -> dict[str, Any]:
    """Every extracted file must be exactly one the manifest lists, and the manifest must be the one the id names."""
    import hashlib

    with open(os.path.join(target, MANIFEST_NAME), "rb") as stream:
        manifest_bytes = stream.read()
    if hashlib.sha256(manifest_bytes).hexdigest() != package_id:
        raise BootstrapError(f"the archive's manifest does not match package id {package_id}")
    manifest: dict[str, Any] = json.loads(manifest_bytes)
    expected = {entry["path"]: entry["sha256"] for entry in manifest["files"]}
    found: dict[str, str] = {}
    for directory, _, names in os.walk(target):
        for name in names:
            path = os.path.join(directory, name)
            relative = os.path.relpath(path, target).replace(os.sep, "/")
            if relative != MANIFEST_NAME:
                found[relative] = file_sha256(path)
    if found != expected:
        differing = sorted(path for path in expected.keys() | found.keys() if expected.get(path) != found.get(path))
        raise BootstrapError(f"the archive's files do not match its manifest: {', '.join(differing[:5])}")
    return manifest


def read_ready_marker(target: str) -> list[str] | None:
    """The sys.path entries recorded by a complete extraction at ``target``; None if there is none (yet)."""
    marker = os.path.join(target, READY_MARKER)
    try:
        with open(marker) as stream:
            entries: list[str] = json.load(stream)["sys_path"]
    except FileNotFoundError:
        return None
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise BootstrapError(
            f"the cached extraction {target} has an unreadable {READY_MARKER} ({error}); delete that directory"
        ) from error
    return entries


def remove_abandoned_extractions(cache_root: str, package_id: str) -> None:
    """Delete this package's temporary directories left by processes killed while extracting (a shared cache
    outlives its pods); only those untouched for an hour, so an extraction in progress is never disturbed."""
    import shutil
    import time

    prefix = f".{package_id}."
    try:
        names = [name for name in os.listdir(cache_root) if name.startswith(prefix) and not name.endswith(LOCK_SUFFIX)]
    except OSError:
        return
    for name in names:
        path = os.path.join(cache_root, name)
        try:
            abandoned = time.time() - os.stat(path).st_mtime > ABANDONED_EXTRACTION_SECONDS
        except OSError:
            continue
        if abandoned:
            shutil.rmtree(path, ignore_errors=True)


def lock_extraction(cache_root: str, package_id: str) -> int | None:
    """Take the package's extraction lock (an open descriptor; closing it releases the lock), waiting for a process
    that is extracting it; None where the cache cannot be locked (no locks on that filesystem, no write access,
    or a holder that has not finished within EXTRACTION_LOCK_WAIT_SECONDS: a hung pod must not stall the others).

    The lock only spares the cache a herd of identical extractions when many pods start at once on a new package;
    correctness never depends on it (see `ensure_extracted`).
    """
    import fcntl
    import time

    try:
        descriptor = os.open(os.path.join(cache_root, f".{package_id}{LOCK_SUFFIX}"), os.O_RDWR | os.O_CREAT, 0o666)
    except OSError:
        return None
    with contextlib.suppress(OSError):  # pods of other users lock it too (exclusive locks on NFS need write access)
        os.fchmod(descriptor, 0o666)
    give_up = time.monotonic() + EXTRACTION_LOCK_WAIT_SECONDS
    while True:
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return descriptor
        except BlockingIOError:
            if time.monotonic() < give_up:
                time.sleep(0.02)
                continue
        except OSError:
            pass
        os.close(descriptor)
        return None


def ensure_extracted(cache_root: str, package_id: str, archive_path: str, archive_sha256: str) -> tuple[str, list[str]]:
    """The extraction directory of the package and its sys.path entries, extracting it unless already cached.

    Safe with any number of processes extracting the same package into one cache at once, even a cache shared by
    every pod: each extracts into its own temporary directory, verifies it against the manifest, writes the ready
    marker last, and renames the directory into place (atomic on a POSIX filesystem). A process that loses the
    race uses the winner's tree; a tree without the marker is never used. Processes starting together on a cold
    cache wait for the one holding the extraction lock and then use its tree instead of extracting it again.
    """
    target = os.path.join(cache_root, package_id)
    cached = read_ready_marker(target)
    if cached is not None:
        return target, cached
    os.makedirs(cache_root, exist_ok=True)
    lock = lock_extraction(cache_root, package_id)
    try:
        cached = read_ready_marker(target)  # extracted by the process that held the lock
        if cached is not None:
            return target, cached
        check_digest("archive", archive_path, file_sha256(archive_path), archive_sha256)
        remove_abandoned_extractions(cache_root, package_id)
        return target, _extract_into_place(cache_root, package_id, archive_path, archive_sha256)
    finally:
        if lock is not None:
            os.close(lock)


def _extract_into_place(cache_root: str, package_id: str, archive_path: str, archive_sha256: str) -> list[str]:
    """Extract and verify in a private temporary directory, mark it complete, rename it to its final name."""
    import shutil
    import tempfile

    target = os.path.join(cache_root, package_id)
    temp = tempfile.mkdtemp(prefix=f".{package_id}.", dir=cache_root)
    try:
        extract_archive(archive_path, temp)
        manifest = check_against_manifest(temp, package_id)
        # Durable before the marker vouches for it, and the marker before the tree takes its final name: a cache
        # outlives the pod, so after a node crash a tree under its final name must hold every byte it was checked
        # with. One flush of the cache's filesystem (once per package and cache) costs less than an fsync per file.
        flush_filesystem(temp)
        with open(os.path.join(temp, READY_MARKER), "w") as stream:
            json.dump({"archive_sha256": archive_sha256, "sys_path": manifest["sys_path"]}, stream)
            stream.flush()
            os.fsync(stream.fileno())
        os.chmod(temp, 0o755)  # mkdtemp's 0700 would hide a shared cache's tree from pods running as other users
        try:
            os.rename(temp, target)  # if a crash loses the rename itself, the next pod extracts again
        except OSError as error:
            winner = read_ready_marker(target)
            if winner is not None:  # a concurrent process finished first: use its identical tree
                return winner
            if os.path.lexists(target):
                raise BootstrapError(
                    f"{target} exists but is not a complete extraction (it has no {READY_MARKER}), so it is not "
                    "trusted; it was not made by this bootstrap or was damaged: delete it"
                ) from error
            raise BootstrapError(f"cannot move the extracted package into {target}: {error}") from error
        entries: list[str] = manifest["sys_path"]
        return entries
    finally:
        shutil.rmtree(temp, ignore_errors=True)


def flush_filesystem(path: str) -> None:
    """Write out the dirty data of the filesystem holding ``path``: ``syncfs`` on Linux, a full ``sync`` elsewhere.

    ``syncfs`` waits for that one filesystem only, not for every other pod's writes on the node.
    """
    try:
        import ctypes

        syncfs = ctypes.CDLL(None, use_errno=True).syncfs
    except (ImportError, OSError, AttributeError):
        os.sync()
        return
    fd = os.open(path, os.O_RDONLY)
    try:
        if syncfs(fd) != 0:
            os.sync()
    finally:
        os.close(fd)


def check_runtime(expected_cloudpickle: str | None, target: str) -> None:
    """The cloudpickle that will unpickle, and the flowkit that will run the task, must be the package's copies.

    They could differ if the image imported its own copies at interpreter start (a .pth file), before the package was
    put on sys.path; a pickle read by another cloudpickle version can misbehave in ways no error message explains.
    cloudpickle is imported here only for a flow pickled by value (about 10 ms of imports: ast, inspect, logging,
    platform, uuid); a flow travelling by reference loads it only if a step pickles something plain pickle cannot,
    and then from the shipped copy first on sys.path. A copy imported before that is refused all the same.
    """
    import flowkit

    runtime = [flowkit]
    if expected_cloudpickle is not None:
        import cloudpickle

        actual = getattr(cloudpickle, "__version__", "unknown")
        if actual != expected_cloudpickle:
            raise BootstrapError(
                f"the flow was pickled with cloudpickle {expected_cloudpickle} but cloudpickle {actual} from "
                f"{cloudpickle.__file__} would unpickle it; the package must ship the cloudpickle it was pickled with"
            )
    if "cloudpickle" in sys.modules:
        runtime.append(sys.modules["cloudpickle"])
    foreign = [f"{module.__name__} from {module.__file__}" for module in runtime if not is_shipped(module, target)]
    if foreign:
        raise BootstrapError(
            f"{' and '.join(foreign)} were imported before the package was put on sys.path; only the copies "
            f"shipped under {target} are trusted to match the client"
        )


def is_shipped(module: Any, target: str) -> bool:
    """Whether ``module`` was loaded from the extracted package at ``target``."""
    return os.path.realpath(getattr(module, "__file__", None) or "").startswith(os.path.realpath(target) + os.sep)


def install_shipped_model(target: str) -> None:
    """Give flowkit the flow's graph and resolved specs from the manifest: validated when the package was built,
    they are used as they are (validating again would need pydantic, which the image need not have)."""
    from flowkit.specs.shipped import install

    with open(os.path.join(target, MANIFEST_NAME), "rb") as stream:
        manifest = json.load(stream)
    install({"graph": manifest["graph"], "class_specs": manifest["class_specs"], "steps": manifest["step_specs"]})


def import_flow(reference: str, target: str) -> type:
    """The class named ``module:Qualname``, imported from the shipped source under its own module name."""
    module_name, _, qualname = reference.partition(":")
    try:
        # The import statement's machinery rather than importlib.import_module: the same module, and `-X importtime`
        # then reports the flow's module and what it imports, so a measurement of the pod path leaves nothing out.
        __import__(module_name)
        module = sys.modules[module_name]
    except ImportError as error:
        raise BootstrapError(
            f"cannot import the flow's module {module_name!r} from the code package: {error}; a module the flow "
            "imports must be shipped in the project or installed in the image"
        ) from error
    if not is_shipped(module, target):
        raise BootstrapError(
            f"the flow's module {module_name!r} resolves to {getattr(module, '__file__', None)}, not to the shipped "
            f"source under {target}: rename the flow's file so that it does not shadow an installed module"
        )
    found: Any = module
    for name in qualname.split("."):
        found = getattr(found, name, None)
    if not isinstance(found, type):
        raise BootstrapError(f"the code package's module {module_name!r} defines no class {qualname!r}")
    return found


def line_buffered_output() -> None:
    """Each printed line reaches the pod's log (and the stored copy) at once, not when the step ends or never (an
    OOM kill loses a block buffer); child Pythons the step starts inherit the same through PYTHONUNBUFFERED."""
    for stream in (sys.stdout, sys.stderr):
        reconfigure = getattr(stream, "reconfigure", None)
        if reconfigure is not None:
            reconfigure(line_buffering=True)
    os.environ.setdefault("PYTHONUNBUFFERED", "1")


def run(argv: list[str]) -> int:
    os.umask(SHARED_UMASK)
    options, task_argv = parse_arguments(argv)
    if options.flow is None:
        check_python_version(str(options.python_version))
    root = options.datastore_root
    package_id = options.package_id
    payload = None
    if options.flow is None:
        payload = read_verified("payload", os.path.join(root, str(options.payload)), str(options.payload_sha256))
    default_cache = os.path.join(os.environ.get("TMPDIR", "/tmp"), "flowkit-packages")
    cache_root = options.cache_dir or os.environ.get("FLOWKIT_PACKAGE_CACHE") or default_cache
    archive_path = os.path.join(root, options.archive)
    target, entries = ensure_extracted(os.path.abspath(cache_root), package_id, archive_path, options.archive_sha256)
    # Python puts this script's directory first (as resolved: a ConfigMap's file is a symlink into a hidden
    # directory), or the working directory for `python -c`; whatever lies there must not be importable.
    own = {"", os.path.dirname(os.path.abspath(__file__)), os.path.dirname(os.path.realpath(__file__))}
    sys.path[:] = [os.path.join(target, entry) for entry in entries] + [entry for entry in sys.path if entry not in own]
    os.environ["FLOWKIT_CODE_PACKAGE_ID"] = package_id
    check_runtime(options.cloudpickle_version, target)
    install_shipped_model(target)
    from flowkit.datastore.blob_format import write_uncompressed_blobs

    write_uncompressed_blobs()  # readable by every CPython, and no compiled codec on the pod path
    line_buffered_output()
    if options.flow is not None:
        flow_cls = import_flow(options.flow, target)
    else:
        import pickle

        flow_cls = pickle.loads(payload)  # type: ignore[arg-type]
    from flowkit.task.cli import main as run_task

    exit_code: int = run_task(task_argv, flow_cls=flow_cls)
    return exit_code


if __name__ == "__main__":
    try:
        exit_code = run(sys.argv[1:])
    except BootstrapError as error:
        print(f"flowkit bootstrap: {error}", file=sys.stderr)
        exit_code = EXIT_BOOTSTRAP_FAILED
    except OSError as error:  # the package cache on the claim (package_cache="volume")
        if error.errno not in UNWRITABLE_ERRNOS:
            raise
        print(unwritable_message(error), file=sys.stderr)
        exit_code = EXIT_DATASTORE_UNWRITABLE
    sys.exit(exit_code)
