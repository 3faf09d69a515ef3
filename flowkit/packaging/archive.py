"""A byte-for-byte reproducible tar.gz.

Everything a tar or gzip header could take from the build machine is fixed: entries are sorted, mtimes are 0,
owners are 0 with empty names, modes are normalized, and the gzip header carries neither a file name nor a
timestamp. The same content therefore always gives the same archive bytes (with the same zlib), so the archive's
sha256 can be checked after a transfer and two builds of one commit can be compared.
"""

from __future__ import annotations

import gzip
import io
import tarfile
from dataclasses import dataclass

# Level 6 is zlib's default trade-off: level 9 is markedly slower on source trees for a few percent.
COMPRESS_LEVEL = 6


@dataclass(frozen=True)
class ArchiveMember:
    """One regular file of the archive."""

    name: str  # relative POSIX path
    data: bytes
    mode: int


def _tar_info(member: ArchiveMember) -> tarfile.TarInfo:
    info = tarfile.TarInfo(member.name)
    info.size = len(member.data)
    info.mode = member.mode
    info.mtime = 0
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    info.type = tarfile.REGTYPE
    return info


def write_archive(members: list[ArchiveMember]) -> bytes:
    """Return the deterministic tar.gz holding ``members`` (sorted by name whatever order they come in)."""
    names = [member.name for member in members]
    if len(set(names)) != len(names):
        raise ValueError("duplicate archive member names")
    buffer = io.BytesIO()
    with (
        gzip.GzipFile(filename="", mode="wb", fileobj=buffer, mtime=0, compresslevel=COMPRESS_LEVEL) as compressed,
        tarfile.open(fileobj=compressed, mode="w", format=tarfile.PAX_FORMAT) as tar,
    ):
        for member in sorted(members, key=lambda item: item.name):
            tar.addfile(_tar_info(member), io.BytesIO(member.data))
    return buffer.getvalue()
