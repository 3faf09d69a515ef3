"""Put files on the datastore PVC through the Kubernetes API, for users with no local mount of the volume.

Public functions (``factory`` is a `flowkit.deploy.config.ApiClientFactory`):

- ``upload_files(factory, namespace, files, pod: HelperPodSpec, *, timeout_seconds=300.0)
  -> dict[str, StoredFile]``

Each `FileUpload` names a path relative to the PVC root (the code package layout of `flowkit.packaging.publish`:
``packages/sha256/<id>/code.tar.gz`` ...), its bytes and their sha256. A short-lived pod mounts the claim, and
commands run in it over exec streams, as ``kubectl cp`` does:

1. list which files are already there (write-once: those are left alone and nothing is sent for them, once they are
   checked to be what would have been sent: the same digest, or for an archive the same manifest inside);
2. per missing file, receive its bytes on stdin into a temporary name beside the destination and check its sha256
   (one stream per file: busybox ``head -c`` reads ahead, so files cannot share a stream);
3. once every file has arrived intact, sync and rename them into place.

On any failure the temporary files are removed, so a corrupted transfer leaves nothing in place; the pod is deleted
afterwards, on error too.
"""

from __future__ import annotations

import hashlib
import posixpath
import re
import secrets
from collections.abc import Sequence
from dataclasses import dataclass

from flowkit.deploy.config import ApiClientFactory
from flowkit.deploy.errors import DeployError
from flowkit.deploy.pod_exec import HelperPod, HelperPodSpec

_SAFE_RELPATH = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9._-]*(/[A-Za-z0-9_][A-Za-z0-9._-]*)*$")

# $1 = PVC mount path, then one path per file: print "<sha256>  <path>" for each file already there.
_LIST_PRESENT = 'cd "$1" && shift && for path in "$@"; do if [ -f "$path" ]; then sha256sum "$path"; fi; done'

# $1 = PVC mount path, $2 = temporary path, $3 = size, $4 = sha256. Reads exactly `size` bytes: the v4 exec protocol
# cannot signal the end of stdin. Directories are made group-writable (under the fsGroup volume's setgid root they
# keep its group), so pods of other uids in the group can add their own files beside the package.
_RECEIVE = r"""
set -eu
umask 002
cd "$1"; temp="$2"; size="$3"; expected="$4"
mkdir -p "$(dirname "$temp")"
head -c "$size" > "$temp"
actual="$(sha256sum "$temp" | cut -d ' ' -f 1)"
if [ "$actual" != "$expected" ]; then
  rm -f "$temp"
  echo "received bytes have sha256 $actual, expected $expected (corrupted transfer)" >&2
  exit 3
fi
"""

# $1 = PVC mount path, then (temporary path, final path) pairs. A file that appeared meanwhile (a concurrent upload
# of the same content) is kept.
_COMMIT = r"""
set -eu
cd "$1"; shift
sync
while [ "$#" -gt 0 ]; do
  temp="$1"; path="$2"; shift 2
  if [ -e "$path" ]; then rm -f "$temp"; else chmod 0644 "$temp"; mv "$temp" "$path"; fi
done
sync
"""

_REMOVE = 'cd "$1" && shift && rm -f "$@"'

# $1 = PVC mount path, $2 = archive path, $3 = member: print the sha256 of that member of the gzipped tar archive.
_MEMBER_SHA256 = 'cd "$1" && tar -xzOf "$2" "$3" | sha256sum'


@dataclass(frozen=True)
class FileUpload:
    relpath: str
    """Destination relative to the PVC root, e.g. ``packages/sha256/<id>/code.tar.gz``."""
    data: bytes
    sha256: str
    same_content: tuple[str, str] | None = None
    """For an archive: (member, sha256). A file already there with other bytes is accepted when its member has that
    digest (an earlier build of the same package, compressed differently); any other file already there must have
    ``sha256`` itself."""


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
    pod_spec: HelperPodSpec,
    *,
    timeout_seconds: float = 300.0,
) -> dict[str, StoredFile]:
    """Write each file once at its path on the claim of ``pod_spec``; return what is stored there, by relpath."""
    _check_uploads(files)
    mount_path = pod_spec.mount_path
    with factory() as client, HelperPod(client, namespace, pod_spec, timeout_seconds=timeout_seconds) as pod:
        listing = pod.run(["sh", "-c", _LIST_PRESENT, "sh", mount_path, *(f.relpath for f in files)])
        present = _parse_sha256sum(listing.stdout.decode())
        for upload in files:
            if upload.relpath in present:
                _check_present(pod, mount_path, upload, present[upload.relpath])
        _transfer(pod, mount_path, [upload for upload in files if upload.relpath not in present])
    return {
        upload.relpath: StoredFile(
            upload.relpath, present.get(upload.relpath, upload.sha256), upload.relpath not in present
        )
        for upload in files
    }


def _check_present(pod: HelperPod, mount_path: str, upload: FileUpload, found_sha256: str) -> None:
    """A file that is already on the claim is kept only if it is what the upload would have written."""
    if found_sha256 == upload.sha256:
        return
    if upload.same_content is not None:
        member, expected = upload.same_content
        listing = pod.run(["sh", "-c", _MEMBER_SHA256, "sh", mount_path, upload.relpath, member])
        if listing.stdout.decode().split(" ", 1)[0] == expected:
            return
        found = f"its {member} is not this package's"
    else:
        found = f"sha256 {found_sha256}, expected {upload.sha256}"
    raise DeployError(
        f"{upload.relpath} already exists on the claim but is not what this deploy needs ({found}); it was damaged "
        "or written by something else: delete it from the claim and deploy again"
    )


def _transfer(pod: HelperPod, mount_path: str, missing: Sequence[FileUpload]) -> None:
    """Stage every missing file under a name unique to this upload, then move them all into place."""
    if not missing:
        return
    token = secrets.token_hex(6)
    staged: list[str] = []
    try:
        for upload in missing:
            directory, name = posixpath.split(upload.relpath)
            temp = posixpath.join(directory, f".{name}.upload-{token}")
            staged.append(temp)
            try:
                pod.run(
                    ["sh", "-c", _RECEIVE, "sh", mount_path, temp, str(len(upload.data)), upload.sha256],
                    stdin=upload.data,
                )
            except DeployError as error:
                raise DeployError(f"{upload.relpath}: {error}", status=error.status) from error
        pairs = [path for temp, upload in zip(staged, missing, strict=True) for path in (temp, upload.relpath)]
        pod.run(["sh", "-c", _COMMIT, "sh", mount_path, *pairs])
    except DeployError:
        _remove_quietly(pod, mount_path, staged)
        raise


def _remove_quietly(pod: HelperPod, mount_path: str, temporary: list[str]) -> None:
    """Best effort after a failure: a leftover is a hidden file no reader looks at, and the next upload uses a new
    name, so failing to remove it must not hide the error that matters."""
    try:
        pod.run(["sh", "-c", _REMOVE, "sh", mount_path, *temporary])
    except DeployError:
        return


def _parse_sha256sum(output: str) -> dict[str, str]:
    """``sha256sum`` lines (``<hex>  <path>``) as {path: hex}."""
    found: dict[str, str] = {}
    for line in output.splitlines():
        digest, _, path = line.partition("  ")
        if path:
            found[path] = digest
    return found
