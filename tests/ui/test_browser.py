"""The UI in a real headless Chromium: pages load cleanly, pictures are drawn, failures are red and one click away."""

from __future__ import annotations

from typing import Any

import pytest

from tests.ui.conftest import Served


def visit(browser: Any, url: str) -> None:
    """Load ``url`` and fail on any console message of level SEVERE (script errors, failed requests, 404s)."""
    browser.get_log("browser")  # drop what earlier pages logged
    browser.get(url)
    errors = [entry for entry in browser.get_log("browser") if entry["level"] == "SEVERE"]
    assert errors == [], f"{url}: console errors {errors}"


def by_css(browser: Any, selector: str) -> list[Any]:
    from selenium.webdriver.common.by import By

    return browser.find_elements(By.CSS_SELECTOR, selector)


def page_urls(served: Served) -> list[str]:
    good, failed = served.good_run, served.failed_run
    return [
        "/",
        "/flows/BranchForeachFlow",
        f"/runs/BranchForeachFlow/{good}",
        f"/runs/BranchForeachFlow/{good}/work/0.1",
        f"/cards/BranchForeachFlow/{good}/work/0.1/0.default.html",
        f"/cards/BranchForeachFlow/{good}/work/0.1/0.blank.everything.html",
        f"/runs/FailingForeachFlow/{failed}",
        f"/runs/FailingForeachFlow/{failed}/work/0.1",
    ]


def test_every_page_loads_without_console_errors(served: Served, browser: Any) -> None:
    for path in page_urls(served):
        visit(browser, served.url + path)
        assert by_css(browser, "h1"), f"{path} rendered no heading"


def test_dag_and_timeline_are_drawn_for_a_branch_and_foreach_run(served: Served, browser: Any) -> None:
    visit(browser, f"{served.url}/runs/BranchForeachFlow/{served.good_run}")
    steps = by_css(browser, "#dag svg g.fk-step")
    assert sorted(step.get_attribute("data-step") for step in steps) == sorted(
        ["start", "fan", "work", "gather", "side", "join", "end"]
    )
    assert all(step.get_attribute("data-status") == "succeeded" for step in steps)
    tasks = by_css(browser, "#dag rect.fk-task")
    assert len(tasks) == 3 and all(task.size["width"] > 0 and task.is_displayed() for task in tasks)
    bars = by_css(browser, "#timeline rect.fk-bar")
    assert len(bars) == 9 and all(bar.size["width"] >= 1 for bar in bars)
    side, fan = (by_css(browser, f'#dag g.fk-step[data-step="{name}"] rect')[0] for name in ("side", "fan"))
    assert side.location["x"] == fan.location["x"] and side.location["y"] != fan.location["y"]  # branches stacked


def test_a_failed_task_is_red_and_its_log_is_one_click_away(served: Served, browser: Any) -> None:
    visit(browser, f"{served.url}/runs/FailingForeachFlow/{served.failed_run}")
    (failed,) = by_css(browser, '#dag rect.fk-task[data-status="failed"]')
    assert failed.value_of_css_property("fill") == "rgb(229, 57, 53)"
    failed.click()
    assert browser.current_url.endswith(f"/runs/FailingForeachFlow/{served.failed_run}/work/0.1")
    assert "about to process item 1" in by_css(browser, "#log-out")[0].text
    assert "RuntimeError: item 1 is broken" in browser.page_source


@pytest.mark.parametrize("container", ["card page", "task page iframe"])
def test_a_card_with_every_component_renders(served: Served, browser: Any, container: str) -> None:
    task = f"BranchForeachFlow/{served.good_run}/work/0.2"
    if container == "card page":
        visit(browser, f"{served.url}/cards/{task}/0.blank.everything.html")
    else:
        visit(browser, f"{served.url}/runs/{task}")
        frame = next(f for f in by_css(browser, "iframe.fk-card") if "everything" in f.get_attribute("src"))
        browser.switch_to.frame(frame)
    try:
        assert by_css(browser, ".fk-markdown h2")[0].text == "Every component"
        assert [cell.text for cell in by_css(browser, "table.fk-table td")] == ["item", "2", "square", "4"]
        image = by_css(browser, ".fk-image img")[0]
        assert browser.execute_script("return arguments[0].complete && arguments[0].naturalWidth", image) == 1
        assert by_css(browser, ".fk-artifact pre")[0].text == "[0, 1, 2]"
        assert len(by_css(browser, "svg.fk-chart rect")) == 3
        progress = by_css(browser, ".fk-progress progress")[0]
        assert progress.get_attribute("value") == "10" and progress.size["width"] > 100
    finally:
        browser.switch_to.default_content()


def test_the_page_of_a_running_run_follows_it(served: Served, browser: Any) -> None:
    """A task that commits while the page is open shows up without anyone reloading it."""
    import time

    from flowkit.datastore import DataStore, RunRecord
    from flowkit.graph import build_graph
    from flowkit.identity import TaskRef
    from flowkit.task.executor import execute_task
    from tests.ui import flows

    store = DataStore(served.root)
    graph = build_graph(flows.BranchForeachFlow).to_dict()
    store.write_run(RunRecord(flow="BranchForeachFlow", run_id="live", graph=graph, parameters={"size": "2"}))
    visit(browser, f"{served.url}/runs/BranchForeachFlow/live")
    assert by_css(browser, '#dag g.fk-step[data-step="start"]')[0].get_attribute("data-status") == "pending"
    start = TaskRef("BranchForeachFlow", "live", "start")
    assert execute_task(flows.BranchForeachFlow, served.root, start, parameters={"size": "2"}).succeeded
    deadline = time.monotonic() + 15
    while by_css(browser, '#dag g.fk-step[data-step="start"]')[0].get_attribute("data-status") != "succeeded":
        assert time.monotonic() < deadline, "the run page did not reload itself"
        time.sleep(0.5)
    assert "fk-status-running" in browser.page_source
