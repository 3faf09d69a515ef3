"""The `package` command: build the flow's code package, show what it holds, optionally write it out."""

from __future__ import annotations

import stat
import warnings
from pathlib import Path
from typing import TYPE_CHECKING

import click

if TYPE_CHECKING:
    from flowkit.packaging import BuiltPackage

MIB = 1024 * 1024


def register(group: click.Group) -> None:
    """Add `package` to a flow's command group."""
    group.add_command(package_command)


@click.command("package")
@click.option(
    "--output",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Write the archive, manifest and payload here, in the datastore layout (e.g. a mounted datastore PVC).",
)
@click.option(
    "--project-root",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    default=None,
    help="Root of the code package [default: the flow file's git checkout or directory].",
)
@click.option(
    "--size-limit",
    type=click.FloatRange(min=0),
    default=None,
    help="Refuse projects larger than this many MiB [default: 100].",
)
@click.pass_obj
def package_command(flow_cls: type, output: Path | None, project_root: Path | None, size_limit: float | None) -> None:
    """Build the code package and list its files; with --output, also publish it there."""
    from flowkit.packaging import DEFAULT_SIZE_LIMIT_BYTES, build_package, build_payload, publish_to_dir

    limit = DEFAULT_SIZE_LIMIT_BYTES if size_limit is None else int(size_limit * MIB)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        package = build_package(flow_cls, project_root, size_limit=limit)
    for warning in caught:
        click.secho(f"warning: {warning.message}", err=True, fg="yellow")
    for skipped in package.skipped:
        click.secho(f"warning: not shipped (symlink or special file): {skipped}", err=True, fg="yellow")
    _print_package(package)
    if output is not None:
        ref = publish_to_dir(package, build_payload(flow_cls, project_root), output)
        click.echo(f"archive:        {output / ref.archive_path}")
        click.echo(f"manifest:       {output / ref.manifest_path}")
        if ref.payload_path is not None:
            click.echo(f"payload:        {output / ref.payload_path} (sha256 {ref.payload_sha256})")
        else:
            click.echo(f"flow:           {ref.flow_reference} (imported from the shipped source)")


def _print_package(package: BuiltPackage) -> None:
    manifest = package.manifest
    click.echo(f"package id:     {package.package_id}")
    click.echo(f"archive sha256: {package.archive_sha256}")
    click.echo(f"size:           {package.size / MIB:.2f} MiB compressed, {manifest.total_size / MIB:.2f} MiB files")
    click.echo(f"project root:   {package.project_root}")
    click.echo(
        f"runtime:        Python {manifest.python_version}, flowkit {manifest.flowkit_version}, "
        f"cloudpickle {manifest.cloudpickle_version}"
    )
    runtime_files = 0
    for entry in manifest.files:
        if entry.path.startswith("lib/"):
            runtime_files += 1
            continue
        click.echo(f"{stat.filemode(stat.S_IFREG | entry.mode)} {entry.size:>10}  {entry.path}")
    click.echo(f"(plus {runtime_files} files of flowkit and cloudpickle under lib/)")
