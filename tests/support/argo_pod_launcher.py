"""Run one emulated pod's command in a private mount namespace (run as a script, as root; stdlib only).

Usage: ``python argo_pod_launcher.py SPEC.json``. The spec (written by :mod:`tests.support.argo_pod`) says:
``root`` an empty host directory that becomes the pod's root, ``binds`` [{source, target, read_only}] for volume
mounts, ``tmpfs`` [target] for emptyDirs, ``outputs`` [path] (output-parameter files) to copy out after the command
exits into ``results_dir`` (file ``<index>``), ``cwd``, ``argv``, ``env``, ``user`` (null, or {uid, gid, groups}
to run the command as) and ``traversable`` (host paths the pod uses: the interpreter, the working directory).

A pod running as another user must be able to reach the interpreter and the working directory, as it could in an
image; the host's directories on the way there may be private to root (``/root`` holding pyenv's interpreters, a
0700 temporary directory), so those directories are rebuilt in the pod's root, where they are world-searchable.

Why a new root instead of bind-mounting straight onto the host's paths: a mount path such as ``/flowkit`` usually
does not exist on the host, and creating it there would leave a directory behind. The new root is a tmpfs holding
a bind mount of every host entry, except that directories on the way to a missing path are themselves rebuilt the
same way one level down, so the missing directories are created in the tmpfs and vanish with the namespace.
Output-parameter files get the same treatment (their host namesakes hidden), so a pod writing ``/tmp/out.json``
writes it inside its own root, as in a container, and parallel pods never see each other's.
The command runs as a child so that its output files can be copied out before the namespace disappears; the exit
status is the child's (128 + signal number when it was killed, as container runtimes report it).
"""

from __future__ import annotations

import ctypes
import json
import os
import subprocess
import sys
from pathlib import PurePosixPath

CLONE_NEWNS = 0x00020000
MS_RDONLY = 0x1
MS_REMOUNT = 0x20
MS_BIND = 0x1000
MS_REC = 0x4000
MS_PRIVATE = 0x40000

_libc = ctypes.CDLL(None, use_errno=True)


def _mount(source: str | None, target: str, fstype: str | None, flags: int, options: str | None = None) -> None:
    """mount(2), raising OSError with the target in the message on failure."""
    encoded = [None if text is None else text.encode() for text in (source, target, fstype, options)]
    if _libc.mount(encoded[0], encoded[1], encoded[2], ctypes.c_ulong(flags), encoded[3]) != 0:
        errno = ctypes.get_errno()
        raise OSError(errno, f"mount {source} -> {target} ({fstype or 'bind'}): {os.strerror(errno)}")


def _ancestors(path: str) -> list[str]:
    """``/a/b/c`` -> ``["/", "/a", "/a/b"]``."""
    return [str(parent) for parent in reversed(PurePosixPath(path).parents)]


def _is_within(path: str, directory: str) -> bool:
    return PurePosixPath(directory) in PurePosixPath(path).parents


def _dirs_to_rebuild(spec: dict) -> set[str]:
    """Host directories whose entries must be replicated one by one rather than bind-mounted whole."""
    rebuild: set[str] = set()
    wanted = [bind["target"] for bind in spec["binds"]] + spec["tmpfs"] + [spec["cwd"]] + spec["outputs"]
    if spec.get("user"):
        rebuild.update(parent for path in spec["traversable"] for parent in _ancestors(path) if os.path.isdir(parent))
    for path in wanted:
        if any(_is_within(path, fresh) for fresh in spec["tmpfs"] if fresh != path):
            continue  # created inside a fresh tmpfs, which hides the host's directory anyway
        if not os.path.lexists(path) or path in spec["outputs"]:
            rebuild.update(parent for parent in _ancestors(path) if os.path.isdir(parent))
    return rebuild


def _replicate(host_dir: str, new_dir: str, rebuild: set[str], hidden: set[str]) -> None:
    """Fill ``new_dir`` (on the tmpfs) with one bind mount per entry of ``host_dir``, recursing into ``rebuild``."""
    for entry in os.scandir(host_dir):
        host_path = os.path.join(host_dir, entry.name)
        new_path = os.path.join(new_dir, entry.name)
        if host_path in hidden:
            continue
        if entry.is_symlink():
            os.symlink(os.readlink(host_path), new_path)
        elif entry.is_dir():
            os.mkdir(new_path)
            if host_path in rebuild:
                _replicate(host_path, new_path, rebuild, hidden)
            else:
                _mount(host_path, new_path, None, MS_BIND | MS_REC)
        else:
            with open(new_path, "w"):
                pass
            _mount(host_path, new_path, None, MS_BIND)


def _build_root(spec: dict) -> None:
    """Make ``spec['root']`` the pod's filesystem view, with its volumes mounted."""
    root = spec["root"]
    _mount("tmpfs", root, "tmpfs", 0, "mode=0755")
    _replicate("/", root, _dirs_to_rebuild(spec), hidden=set(spec["outputs"]))
    mounts = [(bind["target"], bind) for bind in spec["binds"]] + [(target, None) for target in spec["tmpfs"]]
    for target, bind in sorted(mounts, key=lambda pair: len(PurePosixPath(pair[0]).parts)):
        inside = root + target
        if bind is not None and not os.path.isdir(bind["source"]):
            os.makedirs(os.path.dirname(inside), exist_ok=True)
            if not os.path.lexists(inside):
                open(inside, "w").close()
        else:
            os.makedirs(inside, exist_ok=True)
        if bind is None:
            _mount("tmpfs", inside, "tmpfs", 0, "mode=1777")
            continue
        _mount(bind["source"], inside, None, MS_BIND | MS_REC)
        if bind["read_only"]:
            _mount(None, inside, None, MS_BIND | MS_REMOUNT | MS_RDONLY)
    os.makedirs(root + spec["cwd"], exist_ok=True)


def _copy_outputs(outputs: list[str], results_fd: int) -> None:
    """Copy each output file that exists (seen from inside the pod) to ``<results_dir>/<index>``."""
    for index, path in enumerate(outputs):
        try:
            with open(path, "rb") as output:
                content = output.read()
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
            continue
        descriptor = os.open(str(index), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644, dir_fd=results_fd)
        with os.fdopen(descriptor, "wb") as result:
            result.write(content)


def main(spec_path: str) -> int:
    """Enter a new mount namespace, build the pod's root, run the command, copy its outputs out."""
    with open(spec_path, encoding="utf-8") as spec_file:
        spec = json.load(spec_file)
    if _libc.unshare(CLONE_NEWNS) != 0:
        errno = ctypes.get_errno()
        raise OSError(errno, f"unshare(CLONE_NEWNS) failed (root required): {os.strerror(errno)}")
    _mount(None, "/", None, MS_REC | MS_PRIVATE)
    _build_root(spec)
    results_fd = os.open(spec["results_dir"], os.O_RDONLY | os.O_DIRECTORY)
    os.chroot(spec["root"])
    os.chdir(spec["cwd"])
    user = spec.get("user") or {}
    identity = {"user": user["uid"], "group": user["gid"], "extra_groups": user["groups"]} if user else {}
    try:
        returncode = subprocess.run(spec["argv"], env=spec["env"], check=False, **identity).returncode
    except OSError as error:
        print(f"cannot start {spec['argv'][0]!r}: {error}", file=sys.stderr)
        return 127
    _copy_outputs(spec["outputs"], results_fd)
    return 128 - returncode if returncode < 0 else returncode


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
