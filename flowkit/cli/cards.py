"""`card list|get|view RUN/STEP/TASK`: find, print or open the cards a task rendered (Metaflow's `card` commands)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from flowkit.cli.params import datastore_root_option

if TYPE_CHECKING:
    from flowkit.client.cards import Card


def register(group: click.Group) -> None:
    group.add_command(card_group)


def _filter_options(command: Any) -> Any:
    for option in (
        click.option("--attempt", type=int, default=None, help="A given attempt [default: the latest]."),
        click.option("--id", "card_id", default=None, help="Only the card with this id."),
        click.option("--type", "card_type", default=None, help="Only cards of this type (default, blank)."),
        datastore_root_option,
    ):
        command = option(command)
    return command


@click.group("card")
def card_group() -> None:
    """List, print or open the cards of a task (@card)."""


@card_group.command("list")
@click.argument("pathspec", required=False)
@datastore_root_option
@click.pass_obj
def list_command(flow_cls: type, pathspec: str | None, datastore_root: Path | None) -> None:
    """Cards of RUN/STEP/TASK, of every task of RUN/STEP or RUN [default: the latest run]."""
    from flowkit.client import Run, Step
    from flowkit.client.cards import get_cards

    parts = pathspec.strip("/").split("/") if pathspec else []
    parts = parts[1:] if parts and parts[0] == flow_cls.__name__ else parts
    run = Run(f"{flow_cls.__name__}/{parts[0]}", datastore_root=datastore_root) if parts else None
    if run is None:
        run = Run.latest(flow_cls.__name__, datastore_root=datastore_root)
    steps = [Step(f"{run.pathspec}/{parts[1]}", datastore_root=datastore_root)] if len(parts) > 1 else run.steps()
    found = 0
    for step in steps:
        tasks = [step[parts[2]]] if len(parts) > 2 else step.tasks
        for task in tasks:
            for card in get_cards(task):
                found += 1
                click.echo(
                    f"{task.pathspec}  attempt {card.attempt}  type={card.type}  id={card.id or '-'}  {card.path}"
                )
    if not found:
        click.echo(f"no cards in {run.pathspec}" + (f"/{'/'.join(parts[1:])}" if len(parts) > 1 else ""))


@card_group.command("get")
@click.argument("pathspec")
@click.argument("file", required=False, type=click.Path(dir_okay=False, path_type=Path))
@_filter_options
@click.pass_obj
def get_command(
    flow_cls: type,
    pathspec: str,
    file: Path | None,
    card_type: str | None,
    card_id: str | None,
    attempt: int | None,
    datastore_root: Path | None,
) -> None:
    """Print the card's HTML, or write it to FILE."""
    card = _one_card(flow_cls, pathspec, card_type, card_id, attempt, datastore_root)
    if file is None:
        click.echo(card.get(), nl=False)
    else:
        file.write_text(card.get(), encoding="utf-8")
        click.echo(f"wrote {file}")


@card_group.command("view")
@click.argument("pathspec")
@_filter_options
@click.pass_obj
def view_command(
    flow_cls: type,
    pathspec: str,
    card_type: str | None,
    card_id: str | None,
    attempt: int | None,
    datastore_root: Path | None,
) -> None:
    """Open the card in the default browser."""
    card = _one_card(flow_cls, pathspec, card_type, card_id, attempt, datastore_root)
    click.echo(f"opening {card.path}")
    card.view()


def _one_card(
    flow_cls: type,
    pathspec: str,
    card_type: str | None,
    card_id: str | None,
    attempt: int | None,
    datastore_root: Path | None,
) -> Card:
    """The task's single card matching the filters; several or none is a usage error that lists what exists."""
    from flowkit.client import Task
    from flowkit.client.cards import get_cards

    parts = pathspec.strip("/").split("/")
    parts = parts[1:] if len(parts) == 4 and parts[0] == flow_cls.__name__ else parts
    if len(parts) != 3:
        raise click.UsageError(f"expected RUN/STEP/TASK, got {pathspec!r}")
    task = Task(f"{flow_cls.__name__}/{'/'.join(parts)}", datastore_root=datastore_root)
    cards = get_cards(task, id=card_id, type=card_type, attempt=attempt)
    if card_id is None and len(cards) > 1:  # without --id, the step's main card (the one without an id)
        cards = [card for card in cards if card.id is None] or cards
    if len(cards) != 1:
        every = ", ".join(f"type={card.type} id={card.id or '-'}" for card in get_cards(task, attempt=attempt))
        problem = "no card matches" if not cards else f"{len(cards)} cards match; pick one with --type/--id"
        raise click.UsageError(f"{task.pathspec}: {problem} (its cards: {every or 'none'})")
    return cards[0]
