"""A datastore with a finished branch + foreach run and a failed run, served by the UI on a free local port."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.ui import flows
from tests.ui.browser import BrowserMissing, start_chromium


@dataclass(frozen=True)
class Served:
    root: Path
    url: str
    good_run: str
    failed_run: str
    retried_run: str


@pytest.fixture(scope="session")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    from flowkit.ui.server import background_server

    root = tmp_path_factory.mktemp("ui") / "datastore"
    good = flows.BranchForeachFlow.run(datastore_root=root, max_workers=2)
    failed = flows.FailingForeachFlow.run(datastore_root=root, max_workers=2)
    retried = flows.RetriedFlow.run(datastore_root=root)
    assert good.successful and not failed.successful and retried.successful
    with background_server(root) as url:
        yield Served(root, url, good.id, failed.id, retried.id)


@pytest.fixture(scope="session")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    try:
        driver = start_chromium(tmp_path_factory.mktemp("chromium-profile"))
    except BrowserMissing as missing:
        pytest.fail(str(missing))
    yield driver
    driver.quit()
