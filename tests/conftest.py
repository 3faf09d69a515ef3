"""Fixtures shared by every test area. Area-specific fixtures live in each area's own conftest.py."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture
def datastore_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh datastore root, also exported as FLOWKIT_DATASTORE_ROOT so CLI runs use it."""
    root = tmp_path / "datastore"
    monkeypatch.setenv("FLOWKIT_DATASTORE_ROOT", str(root))
    return root
