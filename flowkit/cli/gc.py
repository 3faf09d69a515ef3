"""`flowkit gc` and `python flow.py gc`: delete old runs, then blobs and extracted packages nothing refers to."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import click

from flowkit.cli.params import datastore_root_option

MIB = 1 << 20


@click.command("gc")
@datastore_root_option
@click.option(
    "--older-than",
    "older_than_days",
    type=click.FloatRange(min=0),
    default=30.0,
    show_default=True,
    help="Delete runs created more than this many days ago (every flow's).",
)
@click.option(
    "--grace-hours",
    type=click.FloatRange(min=0),
    default=24.0,
    show_default=True,
    help="Keep anything changed within this many hours, which a live run may still reference; longer than any task.",
)
@click.option("--dry-run", is_flag=True, help="Only report what would be deleted and how much space it takes.")
def gc_command(datastore_root: Path | None, older_than_days: float, grace_hours: float, dry_run: bool) -> None:
    """Delete old runs, then every blob and extracted package no remaining run refers to (safe during runs)."""
    from flowkit.datastore import DataStore
    from flowkit.datastore.gc import collect_garbage

    store = DataStore(datastore_root)
    report = collect_garbage(
        store, older_than=timedelta(days=older_than_days), grace=timedelta(hours=grace_hours), dry_run=dry_run
    )
    verb = "would delete" if dry_run else "deleted"
    for run in report.runs:
        click.echo(f"{verb} run {run}")
    for package in report.packages:
        click.echo(f"{verb} extracted package {package}")
    click.echo(
        f"{store.root}: {verb} {len(report.runs)} run(s) ({_mib(report.run_bytes)}), {report.blobs.files} blob(s) "
        f"({_mib(report.blobs.bytes)}), {len(report.packages)} extracted package(s) ({_mib(report.package_bytes)}), "
        f"{report.temporary_files.files} abandoned temporary file(s) ({_mib(report.temporary_files.bytes)}); "
        f"{_mib(report.total_bytes)} in all"
    )


def register(group: click.Group) -> None:
    """`python flow.py gc`: the same collection, over the whole datastore (blobs are shared between flows)."""
    group.add_command(gc_command)


def _mib(size: int) -> str:
    return f"{size / MIB:.1f} MiB"
