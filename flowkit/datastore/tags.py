"""A run's tags: the user tags given at its start (in run.json) plus later additions and removals.

run.json is written once and never rewritten, so a change made afterwards (``run.add_tag("best")`` in a notebook)
is stored beside it, one small file per tag under ``<run>/tags.d/``, each replaced atomically. Two notebooks
tagging the same run with different tags never overwrite each other's change, and the last change of one tag wins.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from flowkit.datastore.atomic import write_file_atomically
from flowkit.datastore.records import RunRecord
from flowkit.errors import DataStoreError

TAGS_DIR = "tags.d"
"""Not an identifier, so it can never be mistaken for a step's directory."""

MAX_TAG_LENGTH = 500
"""Metaflow's limit on one tag."""


def validate_tag(tag: object) -> str:
    """A tag is a non-empty string of at most 500 characters (Metaflow's rule)."""
    if not isinstance(tag, str) or not tag:
        raise DataStoreError(f"a tag must be a non-empty string, got {tag!r}")
    if len(tag) > MAX_TAG_LENGTH:
        raise DataStoreError(f"a tag is at most {MAX_TAG_LENGTH} characters; {tag[:40]!r}... has {len(tag)}")
    return tag


class RunTags:
    """Reads and changes the user tags of one run directory."""

    def __init__(self, run_dir: Path) -> None:
        self._dir = run_dir / TAGS_DIR

    def user_tags(self, record: RunRecord | None) -> frozenset[str]:
        """The tags given at the start, with every later change applied."""
        tags = set(record.tags if record is not None else ())
        for tag, present in self._changes().items():
            if present:
                tags.add(tag)
            else:
                tags.discard(tag)
        return frozenset(tags)

    def set(self, tag: str, present: bool) -> None:
        """Record that `tag` is (or is no longer) on the run."""
        validate_tag(tag)
        name = hashlib.sha256(tag.encode()).hexdigest()  # any text is a safe file name this way
        write_file_atomically(self._dir / f"{name}.json", json.dumps({"tag": tag, "present": present}).encode())

    def _changes(self) -> dict[str, bool]:
        changes: dict[str, bool] = {}
        for path in sorted(self._dir.glob("*.json")):  # nothing when no tag was ever changed
            change = json.loads(path.read_bytes())
            changes[str(change["tag"])] = bool(change["present"])
        return changes
