"""Fixtures shared by every test area. Area-specific fixtures live in each area's own conftest.py."""

from __future__ import annotations

from pathlib import Path

import pytest

UPDATE_GOLDEN_OPTION = "--update-golden"


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        UPDATE_GOLDEN_OPTION,
        action="store_true",
        help="Rewrite the golden files under tests/golden from what the code emits now, instead of comparing.",
    )


@pytest.fixture
def update_golden(request: pytest.FixtureRequest) -> bool:
    """Whether this run rewrites golden files (``--update-golden``) rather than comparing against them."""
    return bool(request.config.getoption(UPDATE_GOLDEN_OPTION))


@pytest.fixture
def datastore_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh datastore root, also exported as FLOWKIT_DATASTORE_ROOT so CLI runs use it."""
    root = tmp_path / "datastore"
    monkeypatch.setenv("FLOWKIT_DATASTORE_ROOT", str(root))
    return root
