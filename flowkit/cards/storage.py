"""Where cards live in the datastore, beside the task's commit records, so a PVC mount carries an Argo run's cards.

    <root>/runs/<Flow>/<run_id>/<step>/<task_id>/cards/<attempt>.<type>[.<id>].html

One file per card and attempt, written atomically: a card being refreshed while its task runs is replaced whole,
so a reader sees the previous version or the next, never half of one. Unlike records and blobs, a card is not
fsynced: it is a report no task reads, and a machine crash can at worst lose the last version of it, while an fsync
per card would cost a 1,000-task run of short tasks more than the 5 % a report may take. Steps without ``@card``
create nothing.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from flowkit.cards.declaration import CardDeclaration
from flowkit.datastore import DataStore
from flowkit.datastore.atomic import ensure_dir, is_temp_name, publish, temp_path_beside
from flowkit.identity import TaskRef

CARDS_DIR = "cards"


@dataclass(frozen=True)
class StoredCard:
    """A card file of one task attempt."""

    attempt: int
    type: str
    id: str | None
    path: Path

    def html(self) -> str:
        return self.path.read_text(encoding="utf-8")


def card_path(store: DataStore, coords: TaskRef, attempt: int, declaration: CardDeclaration) -> Path:
    return store.task_dir(coords) / CARDS_DIR / f"{attempt}.{declaration.file_stem}.html"


def write_card(path: Path, page: str) -> None:
    ensure_dir(path.parent)
    temp = temp_path_beside(path)
    temp.write_bytes(page.encode("utf-8"))
    publish(temp, path)


def list_cards(store: DataStore, coords: TaskRef, *, follow_resumed: bool = True) -> list[StoredCard]:
    """Every card of the task, by attempt, the default card first, then by type and id.

    A task a resume reused has the origin task's record and logs linked into the new run, but not its cards (they
    are reports, not what the resume needs), so with ``follow_resumed`` (as Metaflow's ``get_cards`` does) its cards
    are the origin task's.
    """
    directory = store.task_dir(coords) / CARDS_DIR
    try:
        names = sorted(name for name in os.listdir(directory) if name.endswith(".html") and not is_temp_name(name))
    except FileNotFoundError:
        record = store.latest_record(coords) if follow_resumed else None
        if record is None or record.origin_run_id is None:
            return []
        return list_cards(store, coords.in_run(record.origin_run_id), follow_resumed=False)
    cards = []
    for name in names:
        attempt, card_type, *card_id = name[: -len(".html")].split(".")
        if attempt.isdigit():
            cards.append(StoredCard(int(attempt), card_type, card_id[0] if card_id else None, directory / name))
    return sorted(cards, key=lambda card: (card.attempt, card.type != "default", card.type, card.id or ""))
