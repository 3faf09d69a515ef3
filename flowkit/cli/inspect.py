"""`logs` and `dump`: a finished (or running) task's output and artifacts, as Metaflow's commands of those names.

Both take Metaflow's ``RUN_ID/STEP[/TASK_ID]``: without a task id, every task of the step, in foreach order.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import click

from flowkit.cli.params import datastore_root_option

if TYPE_CHECKING:
    from flowkit.client import Task


def register(group: click.Group) -> None:
    group.add_command(logs_command)
    group.add_command(dump_command)


def _tasks(flow_cls: type, pathspec: str, datastore_root: Path | None) -> list[Task]:
    """The tasks `RUN_ID/STEP[/TASK_ID]` names in this flow."""
    from flowkit.client import Step, Task

    parts = pathspec.strip("/").split("/")
    if len(parts) not in (2, 3) or not all(parts):
        raise click.BadParameter(f"expected RUN_ID/STEP or RUN_ID/STEP/TASK_ID, got {pathspec!r}")
    full = f"{flow_cls.__name__}/{'/'.join(parts)}"
    if len(parts) == 3:
        return [Task(full, datastore_root=datastore_root)]
    tasks = list(Step(full, datastore_root=datastore_root).tasks)
    if not tasks:
        raise click.ClickException(f"{full} has no tasks")
    return tasks


@click.command("logs")
@click.argument("pathspec")
@click.option("--stdout", "streams", flag_value="out", help="Only the standard output.")
@click.option("--stderr", "streams", flag_value="err", help="Only the standard error.")
@click.option("--attempt", type=click.IntRange(min=0), default=None, help="An earlier attempt [default: the latest].")
@datastore_root_option
@click.pass_obj
def logs_command(
    flow_cls: type, pathspec: str, streams: str | None, attempt: int | None, datastore_root: Path | None
) -> None:
    """Print the captured output of RUN_ID/STEP[/TASK_ID] (every task of the step without a task id)."""
    from flowkit.client import Task

    for task in _tasks(flow_cls, pathspec, datastore_root):
        if attempt is not None:
            task = Task(task.pathspec, datastore_root=datastore_root, attempt=attempt)
        for stream in ("out", "err") if streams is None else (streams,):
            text = task.stdout if stream == "out" else task.stderr
            if text:
                click.echo(text, nl=not text.endswith("\n"), err=stream == "err")


@click.command("dump")
@click.argument("pathspec")
@click.option("--include", default=None, help="Only these artifacts (comma-separated names).")
@click.option(
    "--max-value-size",
    type=click.IntRange(min=0),
    default=1000,
    show_default=True,
    help="Show artifacts of at most this many bytes; list larger ones by size.",
)
@datastore_root_option
@click.pass_obj
def dump_command(
    flow_cls: type, pathspec: str, include: str | None, max_value_size: int, datastore_root: Path | None
) -> None:
    """Print the artifacts of RUN_ID/STEP[/TASK_ID] (every task of the step without a task id)."""
    wanted = None if include is None else {name.strip() for name in include.split(",") if name.strip()}
    for task in _tasks(flow_cls, pathspec, datastore_root):
        click.secho(task.pathspec, bold=True)
        for artifact in task.artifacts:
            if wanted is not None and artifact.id not in wanted:
                continue
            if artifact.size > max_value_size:
                click.echo(f"  {artifact.id}: <{artifact.type}, {artifact.size} bytes; raise --max-value-size>")
            else:
                click.echo(f"  {artifact.id}: {artifact.data!r}")
