"""Put files on the datastore PVC through the Kubernetes API, for users with no local mount of the volume.

Public functions (``factory`` is a `flowkit.deploy.config.ApiClientFactory`):

- ``upload_files(factory, namespace, files, *, claim, mount_path="/flowkit", image=..., service_account=None,
  run_as_user=None, timeout_seconds=300.0) -> dict[str, StoredFile]``

Each `FileUpload` names a path relative to the PVC root (the code package layout of `flowkit.packaging.publish`:
``packages/sha256/<id>/code.tar.gz`` ...), its bytes and their sha256. A short-lived pod mounts the claim; one exec
lists which files are already there (write-once: those are left alone and nothing is sent for them); one more exec
receives the missing ones on stdin, as ``kubectl cp`` does, checks every sha256, and only then renames them into
place. The pod is deleted afterwards, on error too.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass

from flowkit.deploy.config import ApiClientFactory
from flowkit.deploy.errors import DeployError
from flowkit.deploy.pod_exec import HelperPod

DEFAULT_IMAGE = "busybox:1.36"
"""Any image with a POSIX shell, head, sha256sum, mv and sync."""

_SAFE_RELPATH = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9._-]*(/[A-Za-z0-9_][A-Za-z0-9._-]*)*$")

# $1 = PVC mount path, then one path per file: print "<sha256>  <path>" for each file already there.
_LIST_PRESENT = 'cd "$1" && shift && for path in "$@"; do if [ -f "$path" ]; then sha256sum "$path"; fi; done'

# $1 = PVC mount path, then (path, size, sha256) per file; stdin carries the files' bytes back to back. Every file
# lands in a temporary name beside its destination and is checked before any is renamed, so a corrupted transfer
# leaves nothing in place. A file that appeared meanwhile (a concurrent upload of the same bytes) is kept.
_RECEIVE = r"""
set -eu
cd "$1"; shift
received=""
trap 'rm -f $received' EXIT
for _ in $(seq 1 $(($# / 3))); do
  path="$1"; size="$2"; expected="$3"; shift 3; set -- "$@" "$path"
  mkdir -p "$(dirname "$path")"
  temp="$(dirname "$path")/.$(basename "$path").upload.$$"
  received="$received $temp"
  head -c "$size" > "$temp"
  actual="$(sha256sum "$temp" | cut -d ' ' -f 1)"
  if [ "$actual" != "$expected" ]; then
    echo "$path: received bytes have sha256 $actual, expected $expected (corrupted transfer)" >&2
    exit 3
  fi
done
sync
for path in "$@"; do
  temp="$(dirname "$path")/.$(basename "$path").upload.$$"
  if [ -e "$path" ]; then rm -f "$temp"; else chmod 0644 "$temp"; mv "$temp" "$path"; fi
done
sync
"""


@dataclass(frozen=True)
class FileUpload:
    relpath: str
    """Destination relative to the PVC root, e.g. ``packages/sha256/<id>/code.tar.gz``."""
    data: bytes
    sha256: str


@dataclass(frozen=True)
class StoredFile:
    relpath: str
    sha256: str
    """sha256 of the file now on the PVC: the uploaded bytes', or the existing file's when it was already there."""
    written: bool


def _check_uploads(files: Sequence[FileUpload]) -> None:
    """Refuse bad input before creating a pod: unsafe paths, duplicates, and bytes that do not match their hash."""
    seen: set[str] = set()
    for upload in files:
        if not _SAFE_RELPATH.match(upload.relpath) or ".." in upload.relpath.split("/"):
            raise DeployError(f"upload path {upload.relpath!r} must be relative, without '..' or unusual characters")
        if upload.relpath in seen:
            raise DeployError(f"upload path {upload.relpath!r} is given twice")
        seen.add(upload.relpath)
        actual = hashlib.sha256(upload.data).hexdigest()
        if actual != upload.sha256:
            raise DeployError(f"{upload.relpath}: the bytes to upload have sha256 {actual}, not {upload.sha256}")


def upload_files(
    factory: ApiClientFactory,
    namespace: str,
    files: Sequence[FileUpload],
    *,
    claim: str,
    mount_path: str = "/flowkit",
    image: str = DEFAULT_IMAGE,
    service_account: str | None = None,
    run_as_user: int | None = None,
    timeout_seconds: float = 300.0,
) -> dict[str, StoredFile]:
    """Write each file once at its path on the PVC ``claim``; return what is stored there, by relpath."""
    _check_uploads(files)
    with (
        factory() as client,
        HelperPod(
            client,
            namespace,
            claim=claim,
            mount_path=mount_path,
            image=image,
            service_account=service_account,
            run_as_user=run_as_user,
            timeout_seconds=timeout_seconds,
        ) as pod,
    ):
        listing = pod.run(["sh", "-c", _LIST_PRESENT, "sh", mount_path, *(f.relpath for f in files)])
        present = _parse_sha256sum(listing.stdout.decode())
        missing = [upload for upload in files if upload.relpath not in present]
        if missing:
            arguments = [str(value) for f in missing for value in (f.relpath, len(f.data), f.sha256)]
            pod.run(["sh", "-c", _RECEIVE, "sh", mount_path, *arguments], stdin=b"".join(f.data for f in missing))
    return {
        upload.relpath: StoredFile(
            upload.relpath, present.get(upload.relpath, upload.sha256), upload.relpath not in present
        )
        for upload in files
    }


def _parse_sha256sum(output: str) -> dict[str, str]:
    """``sha256sum`` lines (``<hex>  <path>``) as {path: hex}."""
    found: dict[str, str] = {}
    for line in output.splitlines():
        digest, _, path = line.partition("  ")
        if path:
            found[path] = digest
    return found
