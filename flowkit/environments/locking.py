"""`env lock` and `env check`: solving a declaration into conda-lock.yml, and telling whether that file is stale.

Locking runs conda-lock's `make_lock_files` on the generated environment source (see `declaration.lock_source`),
with the declaration hash of every locked platform stored in the lockfile's custom metadata
(`flowkit-declaration-sha256-<platform>`). `env check` recomputes the hash from the current declaration and compares:
conda-lock's own content hash also covers its virtual packages and changes between conda-lock releases, so it is not
a reliable signal of "the user changed the declaration".
"""

from __future__ import annotations

import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import yaml

from flowkit.environments.declaration import EnvironmentTarget, declaration_hash, lock_source
from flowkit.environments.lockfile import (
    RenderedEnvironment,
    import_conda_lock,
    lockfile_metadata,
    read_lockfile,
    render_environment,
)
from flowkit.environments.materialize_script import INSTALLERS, find_installer
from flowkit.errors import FlowDefinitionError, FlowkitError

DECLARATION_HASH_KEY = "flowkit-declaration-sha256-{platform}"


@dataclass(frozen=True)
class LockStatus:
    """Whether a target's lockfile matches its declaration, and if not, every reason why."""

    lockfile_path: Path
    problems: tuple[str, ...]

    @property
    def is_fresh(self) -> bool:
        """True when the lockfile exists, covers every declared platform, and was locked from this declaration."""
        return not self.problems


def lock_environment(
    target: EnvironmentTarget, platforms: Sequence[str] = (), *, mapping_url: str | None = None
) -> Path:
    """Solve the target's declaration with conda-lock and write its lockfile; returns the lockfile's path.

    `platforms` replaces the declared platforms for this lock (conda-lock keeps other platforms already in the file).
    The solve needs conda, mamba or micromamba on PATH and access to the declared channels; `mapping_url` is
    conda-lock's PyPI-to-conda name mapping (a URL or a local file), used when the declaration has pip packages.
    """
    conda_lock = import_conda_lock()
    lookup = import_conda_lock("conda_lock.lookup")
    installer = find_installer()
    if installer is None:
        raise FlowkitError(f"`env lock` needs one of {', '.join(INSTALLERS)} on PATH for conda-lock's solver")
    platforms_to_lock = list(platforms or target.spec.platforms)
    source = lock_source(target)
    source_hash = declaration_hash(source)
    with tempfile.TemporaryDirectory(prefix="flowkit-lock-") as scratch_text:
        scratch = Path(scratch_text)
        source_file = scratch / "environment.yml"
        source_file.write_text(yaml.safe_dump(source, sort_keys=False), encoding="utf-8")
        metadata_file = scratch / "flowkit-metadata.yml"
        hashes = {DECLARATION_HASH_KEY.format(platform=platform): source_hash for platform in platforms_to_lock}
        metadata_file.write_text(yaml.safe_dump(hashes), encoding="utf-8")
        conda_lock.make_lock_files(
            conda=installer,
            src_files=[source_file],
            kinds=["lock"],
            lockfile_path=target.lockfile_path,
            platform_overrides=platforms_to_lock,
            metadata_yamls=[metadata_file],
            mapping_url=mapping_url or lookup.DEFAULT_MAPPING_URL,
        )
    _record_declared_sources(target)
    return target.lockfile_path


def _record_declared_sources(target: EnvironmentTarget) -> None:
    """Name the user's environment file (or nothing, for an inline declaration) as the lockfile's source.

    conda-lock records the path of the file it solved, here a generated file in a temporary directory that would
    otherwise appear in the committed lockfile.
    """
    lockfile_module = import_conda_lock("conda_lock.lockfile")
    lockfile = read_lockfile(target.lockfile_path)
    lockfile.metadata.sources = [target.spec.file] if target.spec.file else []
    lockfile_module.write_conda_lock_file(lockfile, target.lockfile_path, metadata_choices=None)


def check_lockfile(target: EnvironmentTarget) -> LockStatus:
    """Compare the target's lockfile with its current declaration, platform by platform."""
    path = target.lockfile_path
    if not path.is_file():
        return LockStatus(path, (f"{path.name} does not exist",))
    lockfile = read_lockfile(path)
    stored = lockfile_metadata(lockfile)
    current = declaration_hash(lock_source(target))
    problems = []
    for platform in target.spec.platforms:
        recorded = stored.get(DECLARATION_HASH_KEY.format(platform=platform))
        if platform not in lockfile.metadata.platforms:
            problems.append(f"platform {platform} is declared but not locked")
        elif recorded is None:
            problems.append(f"platform {platform} was not locked by flowkit (no declaration hash)")
        elif recorded != current:
            problems.append(f"the declaration changed since platform {platform} was locked")
    return LockStatus(path, tuple(problems))


def locked_environment(target: EnvironmentTarget, platform: str) -> RenderedEnvironment:
    """The target's environment for `platform`, rendered from a lockfile that is fresh against its declaration.

    Running a stale lock would install something other than what the flow declares, silently; so this refuses.
    Results are remembered per lockfile state, declaration and platform: the compiler asks once per step, and
    parsing a lockfile of a few hundred packages costs tens of milliseconds.
    """
    path = target.lockfile_path
    key = None
    if path.is_file():
        stat = path.stat()
        declaration = declaration_hash(lock_source(target))
        key = (str(path), stat.st_mtime_ns, stat.st_size, declaration, tuple(target.spec.platforms), platform)
        if key in _RENDERED:
            return _RENDERED[key]
    status = check_lockfile(target)
    if not status.is_fresh:
        raise FlowDefinitionError(
            f"{status.lockfile_path.name} is stale ({'; '.join(status.problems)}): run `python <flow file> env lock`",
            flow=target.flow_name,
            step=target.step,
            decorator="conda",
        )
    rendered = render_environment(read_lockfile(path), platform, flow=target.flow_name, step=target.step)
    if key is not None:
        _RENDERED[key] = rendered
    return rendered


_RENDERED: dict[tuple[str, int, int, str, tuple[str, ...], str], RenderedEnvironment] = {}
