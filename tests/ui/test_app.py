"""The UI's pages over HTTP: what each shows, refresh while running, 404s, and the card route's file check."""

from __future__ import annotations

import urllib.error
import urllib.request

import pytest
from click.testing import CliRunner

from flowkit.cli.main import main as console_main
from flowkit.cli.ui import ui_command
from flowkit.client import Run
from flowkit.datastore import DataStore, RunRecord
from tests.ui.conftest import Served


def get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


def test_flows_and_runs_pages_list_status_duration_and_counts(served: Served) -> None:
    status, page = get(served.url + "/")
    assert status == 200
    assert '<a href="/flows/BranchForeachFlow">BranchForeachFlow</a>' in page and "FailingForeachFlow" in page
    status, page = get(served.url + "/flows/BranchForeachFlow")
    assert status == 200 and served.good_run in page and "fk-status-succeeded" in page
    assert "<th>Duration</th>" in page and "<th>Tags</th>" in page
    _, failed = get(served.url + "/flows/FailingForeachFlow")
    assert "fk-status-failed" in failed and 'http-equiv="refresh"' not in failed


def test_run_page_draws_tasks_by_status_and_every_attempt_on_the_timeline(served: Served) -> None:
    status, page = get(f"{served.url}/runs/BranchForeachFlow/{served.good_run}")
    assert status == 200
    assert page.count('class="fk-task"') == 3  # the foreach expanded to its tasks
    assert page.count('class="fk-bar"') == 9  # start, fan, 3 x work, gather, side, join, end
    assert f'href="/runs/BranchForeachFlow/{served.good_run}/work/0.2"' in page
    assert "size=3" in page and 'http-equiv="refresh"' not in page
    assert "<title>side\ncpu 2\nmemory 1Gi</title>" in page  # a step's hover: the pod settings its task ran with


def test_each_attempt_of_a_retried_task_is_a_bar_and_has_its_own_task_page(served: Served) -> None:
    status, page = get(f"{served.url}/runs/RetriedFlow/{served.retried_run}")
    assert status == 200 and page.count('class="fk-bar"') == 3  # start twice, end once
    assert "<title>start/0 attempt 0: failed" in page and "<title>start/0 attempt 1: succeeded" in page
    _, first = get(f"{served.url}/runs/RetriedFlow/{served.retried_run}/start/0?attempt=0")
    assert "RuntimeError: the first attempt fails" in first


def test_a_running_run_reloads_its_page(served: Served) -> None:
    store = DataStore(served.root)
    store.write_run(RunRecord(flow="BranchForeachFlow", run_id="still-going", graph=None))
    status, page = get(f"{served.url}/runs/BranchForeachFlow/still-going")
    assert status == 200 and "fk-status-running" in page and '<meta http-equiv="refresh" content="3">' in page
    assert "carries no step graph" in page


def test_task_page_shows_logs_error_and_artifacts_of_the_chosen_attempt(served: Served) -> None:
    status, page = get(f"{served.url}/runs/FailingForeachFlow/{served.failed_run}/work/0.1")
    assert status == 200 and "fk-status-failed" in page
    assert "about to process item 1" in page and "RuntimeError: item 1 is broken" in page
    _, good = get(f"{served.url}/runs/BranchForeachFlow/{served.good_run}/work/0.1?attempt=0")
    assert "<td>square</td><td>int</td>" in good and good.count('<iframe class="fk-card"') == 2


def test_cards_are_served_only_by_their_listed_names(served: Served) -> None:
    base = f"{served.url}/cards/BranchForeachFlow/{served.good_run}/work/0.0"
    status, page = get(base + "/0.blank.everything.html")
    assert status == 200 and "<progress" in page
    assert get(base + "/..%2F..%2Frun.json")[0] == 404
    assert get(base + "/0.json")[0] == 404


@pytest.mark.parametrize(
    "path",
    [
        "/flows/NoSuchFlow",
        "/runs/NoSuchFlow/r1",
        "/runs/BranchForeachFlow/..",
        "/runs/FailingForeachFlow/no-run/work/0.1",
        "/runs/FailingForeachFlow/no-run/work/not-a-task",
        "/runs/BranchForeachFlow/{good}/work/1",  # Metaflow's spelling of 0.1: not another name for that task
        "/cards/BranchForeachFlow/{good}/work/1/0.blank.everything.html",
        "/nope",
    ],
)
def test_unknown_things_are_404_pages(served: Served, path: str) -> None:
    status, page = get(served.url + path.format(good=served.good_run))
    assert status == 404 and "<h1>Not found</h1>" in page


def test_notebook_display_of_run_step_and_task(served: Served) -> None:
    run = Run(f"BranchForeachFlow/{served.good_run}", datastore_root=served.root)
    run_html = run._repr_html_()
    assert "fk-status-succeeded" in run_html and "<svg" in run_html and run_html.count('class="fk-task"') == 3
    step_html = run["work"]._repr_html_()
    assert "3 tasks" in step_html and 'data-step="work"' in step_html
    task_html = run["work"]["0.2"]._repr_html_()
    assert "<td>square</td><td>int</td><td>5 B</td><td>4</td>" in task_html and "attempt 0" in task_html


def test_ui_binds_to_this_machine_only_by_default(capsys: pytest.CaptureFixture[str]) -> None:
    options = {option.name: option.default for option in ui_command.params}
    assert options["host"] == "127.0.0.1"
    help_text = CliRunner().invoke(ui_command, ["--help"]).output
    assert "--datastore-root" in help_text and "--port" in help_text
    with pytest.raises(SystemExit) as exit_status:  # the console script routes `flowkit ui` without a flow file
        console_main(["ui", "--help"])
    assert exit_status.value.code == 0 and "Browse flows, runs, tasks" in capsys.readouterr().out


def test_run_records_carry_the_graph_the_ui_draws(served: Served) -> None:
    from flowkit.graph import build_graph
    from flowkit.graph.model import FlowGraph
    from tests.ui import flows

    record = DataStore(served.root).read_run("BranchForeachFlow", served.good_run)
    assert record is not None and record.graph is not None
    assert FlowGraph.from_dict(record.graph) == build_graph(flows.BranchForeachFlow)
