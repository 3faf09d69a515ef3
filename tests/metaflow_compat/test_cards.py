"""`@card` with `current.card` and `metaflow.cards`-style components, read back with `get_cards`."""

from __future__ import annotations

from pathlib import Path

from flowkit.cards import get_cards
from tests.runtime.cli_runner import describe, run_flow_file

FLOWS = Path(__file__).parent / "flows"


def test_a_card_built_in_a_step_is_read_back_from_the_client(datastore_root: Path) -> None:
    result, run = run_flow_file(FLOWS / "report_flow.py", datastore_root=datastore_root)
    assert result.returncode == 0, describe(result)
    assert run.data.best == "bob"
    (report,) = get_cards(run["start"].task)
    html = report.get()
    assert report.type == "blank" and "Scores" in html and "alice" in html and "<table" in html
