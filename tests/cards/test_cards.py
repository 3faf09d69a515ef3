"""@card: what the default and named cards show, where they are stored, and what a task without a card pays."""

from __future__ import annotations

import ast
import re
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from flowkit.cards import Markdown, ProgressBar, get_cards
from flowkit.cards.collector import NoCards
from flowkit.cards.declaration import CardDeclaration
from flowkit.cards.default import NOT_READ
from flowkit.cards.task import TaskCards
from flowkit.cli.main import build_cli, run_flow_cli
from flowkit.client import Task
from flowkit.datastore import ArtifactRef, DataStore, utc_now
from flowkit.errors import FlowDefinitionError
from flowkit.graph import build_graph
from flowkit.identity import TaskRef
from flowkit.task.executor import execute_task
from tests.cards import flows
from tests.execution.conftest import execute_flow
from tests.execution.test_datastore import _record as task_record
from tests.runtime.cli_runner import describe, flow_command, run_flow_file, write_flow

REPO_ROOT = Path(__file__).resolve().parents[2]


def assert_self_contained(page: str) -> None:
    """No script, stylesheet link or remote URL: the card opens offline exactly as it was rendered."""
    assert "<script" not in page and "<link" not in page
    assert re.findall(r"(?:src|href)=\"(?:https?:)?//", page) == []


def test_default_card_shows_parameters_artifacts_timing_and_the_highlighted_dag(datastore_root: Path) -> None:
    execute_flow(flows.CardFlow, datastore_root, run_id="c1")
    task = Task("CardFlow/c1/work/0.2", datastore_root=datastore_root)
    cards = get_cards(task, type="default")
    assert [(card.type, card.id, card.attempt) for card in cards] == [("default", None, 0)]
    page = cards[0].get()
    assert_self_contained(page)
    assert "<h2>Parameters</h2>" in page and "<td>alpha</td><td>0.5</td>" in page
    assert "<td>square</td><td>int</td><td>5 B</td><td>9</td>" in page  # name, type, size, short repr
    assert "<td>Duration</td>" in page and "<td>Attempt</td><td>1 of 1</td>" in page
    highlighted = re.search(r'data-step="work".*?stroke-width="(\d)"', page)
    assert highlighted is not None and highlighted.group(1) == "3"
    assert 'data-step="join"' in page and "square is 9" in page  # the DAG, then the appended component


def test_named_card_renders_every_component(datastore_root: Path) -> None:
    execute_flow(flows.CardFlow, datastore_root, run_id="c2")
    (card,) = get_cards("CardFlow/c2/work/0.1", id="everything")
    assert card.type == "blank" and card.path.name == "0.blank.everything.html"
    page = card.get()
    assert_self_contained(page)
    assert "<h2>Report</h2>" in page and "<em>italic</em>" in page and "<code>code</code>" in page
    assert "<th>name</th>" in page and "<strong>bold cell</strong>" in page
    assert 'src="data:image/png;base64,' in page and "one pixel" in page
    assert "{&#x27;square&#x27;: 4}" in page
    assert page.count("<rect x=") >= 3 and ">squares</text>" in page  # three bars and the chart title
    assert '<progress max="10" value="7">' in page and "70%" in page
    assert "<h2>Parameters</h2>" not in page  # blank: only what the step appended


def test_steps_without_card_write_nothing_and_drop_components(
    datastore_root: Path, capfd: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("flowkit.authoring.current._no_cards", None)  # it warns once per process
    execute_flow(flows.CardFlow, datastore_root, run_id="c3")
    store = DataStore(datastore_root)
    join = TaskRef("CardFlow", "c3", "join")
    assert not (store.task_dir(join) / "cards").exists()
    assert "no @card" in capfd.readouterr().err
    assert get_cards(Task("CardFlow/c3/join/0", datastore_root=datastore_root)) == []


def test_failed_attempts_keep_their_cards_with_the_error(datastore_root: Path) -> None:
    coords = TaskRef("FailingCardFlow", "f1", "start")
    for attempt in (0, 1):
        assert not execute_task(flows.FailingCardFlow, datastore_root, coords, attempt=attempt).succeeded
    task = Task("FailingCardFlow/f1/start/0", datastore_root=datastore_root)
    assert [card.attempt for card in get_cards(task)] == [1]
    assert [card.attempt for card in get_cards(task, attempt=0)] == [0]
    page = get_cards(task)[0].get()
    assert (
        "fk-status-failed" in page and "ValueError: boom in start" in page and "<td>Attempt</td><td>2 of 2</td>" in page
    )


def test_refresh_writes_a_reloading_card_while_the_task_runs(tmp_path: Path) -> None:
    store = DataStore(tmp_path)
    coords = TaskRef("CardFlow", "live", "work", (0,))
    cards = TaskCards(
        [CardDeclaration(refresh_interval=2)], store, coords, 0, build_graph(flows.CardFlow), ["alpha"], utc_now()
    )
    bar = ProgressBar(max=4)
    cards.collector.append(bar)
    bar.update(1)
    cards.collector.refresh()
    (card,) = get_cards_of(store, coords)
    page = card.read_text()
    assert '<meta http-equiv="refresh" content="2">' in page and "fk-status-running" in page
    assert '<progress max="4" value="1">' in page
    bar.update(3)
    cards.collector.refresh()  # within a second of the last: not written again
    assert '<progress max="4" value="1">' in card.read_text()


def get_cards_of(store: DataStore, coords: TaskRef) -> list[Path]:
    return sorted((store.task_dir(coords) / "cards").glob("*.html"))


def test_current_card_by_id_and_errors_naming_the_card() -> None:
    cards = TaskCards(
        [CardDeclaration(id="a"), CardDeclaration(id="b")],
        DataStore("/nonexistent"),
        TaskRef("F", "r", "s"),
        0,
        build_graph(flows.CardFlow),
        [],
        utc_now(),
    )
    cards.collector["a"].append(Markdown("x"))
    assert len(cards.collector["a"]) == 1 and len(cards.collector["b"]) == 0
    with pytest.raises(KeyError, match=r"F\.s has no @card\(id='c'\); its card ids: 'a', 'b'"):
        cards.collector["c"]
    with pytest.raises(TypeError, match="takes a card component"):
        cards.collector["a"].append("text")  # type: ignore[arg-type]


def test_named_cards_refresh_and_find_components_by_id_as_metaflow_s_do(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Metaflow's per-card calls: ``current.card["id"].refresh()``, ``append(c, id=...)`` then ``components[id]``,
    and ``current.card.append`` with only named cards warns instead of failing the step."""
    store = DataStore(tmp_path)
    coords = TaskRef("CardFlow", "live", "work", (0,))
    cards = TaskCards(
        [CardDeclaration(type="blank", id="a"), CardDeclaration(type="blank", id="b")],
        store,
        coords,
        0,
        build_graph(flows.CardFlow),
        [],
        utc_now(),
    )
    bar = ProgressBar(max=4)
    cards.collector["a"].append(bar, id="progress")
    assert cards.collector["a"]["progress"] is bar and "progress" in cards.collector["a"]
    with pytest.raises(KeyError, match=r"@card blank\.a has no component with id 'loss'; its ids: 'progress'"):
        cards.collector["a"]["loss"]
    bar.update(2)
    cards.collector["a"].refresh()
    assert '<progress max="4" value="2">' in (store.task_dir(coords) / "cards" / "0.blank.a.html").read_text()
    cards.collector.append(Markdown("nowhere"))
    cards.collector.append(Markdown("still nowhere"))
    assert capsys.readouterr().err.count("every @card of CardFlow.work has an id") == 1
    assert len(cards.collector["a"]) == 1 and len(cards.collector["b"]) == 0


@pytest.mark.parametrize(
    ("cards", "message"),
    [
        ([{"type": "fancy"}], r"BadFlow.start \(line \d+\) @card.type: must be one of default, blank, got 'fancy'"),
        ([{"id": "has space"}], r"@card.id: must be letters, digits and underscores"),
        ([{"refresh_interval": 0}], r"@card.refresh_interval: must be a number of seconds > 0"),
        ([{"colour": "red"}], r"@card: unknown argument"),
        ([{}, {}], r"@card.id: two @card with type 'default' and id None"),
    ],
)
def test_card_arguments_are_checked_when_the_class_is_defined(cards: list[dict[str, object]], message: str) -> None:
    from flowkit import card, step

    @step
    def start(self: object) -> None:
        pass

    start.__qualname__ = "BadFlow.start"  # as if defined in `class BadFlow`, where @card runs before the class exists
    with pytest.raises(FlowDefinitionError, match=message):  # the second of two @card raises
        for arguments in cards:
            start = card(**arguments)(start) if arguments else card(start)


def test_card_cli_lists_gets_views_and_explains_ambiguity(
    datastore_root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    execute_flow(flows.CardFlow, datastore_root, run_id="cli1")
    card_dir = datastore_root / "runs" / "CardFlow" / "cli1" / "work"
    runner = CliRunner()
    cli = build_cli(flows.CardFlow)
    listed = runner.invoke(cli, ["card", "list", "cli1/work"])
    assert listed.exit_code == 0, listed.output
    assert listed.output.count("type=default") == 3 and listed.output.count("id=everything") == 3
    got = runner.invoke(cli, ["card", "get", "cli1/work/0.1"])  # the card without an id
    assert got.exit_code == 0 and "<h2>Artifacts</h2>" in got.output
    target = tmp_path / "card.html"
    written = runner.invoke(cli, ["card", "get", "CardFlow/cli1/work/0.1", str(target), "--id", "everything"])
    assert written.exit_code == 0 and "<progress" in target.read_text()
    opened: list[str] = []
    monkeypatch.setattr("webbrowser.open", opened.append)
    viewed = runner.invoke(cli, ["card", "view", "cli1/work/0.2", "--type", "blank"])
    assert viewed.exit_code == 0 and opened == [(card_dir / "0.2" / "cards" / "0.blank.everything.html").as_uri()]
    missing = runner.invoke(cli, ["card", "get", "cli1/join/0"])
    assert missing.exit_code == 2 and "no card matches (its cards: none)" in missing.output


@pytest.mark.parametrize(
    ("command", "message"),
    [
        (["card", "get", "cli2/work/1"], "CardFlow/cli2/work/1: task id '1' is not valid"),
        (["card", "list", "cli2/wrok"], "step CardFlow/cli2/wrok not found: the run's steps are start, work,"),
        (["logs", "cli2/work/1"], "CardFlow/cli2/work/1: task id '1' is not valid"),
    ],
)
def test_a_pathspec_naming_nothing_is_one_line_naming_it(
    datastore_root: Path, capsys: pytest.CaptureFixture[str], command: list[str], message: str
) -> None:
    """Metaflow's integer task ids (``work/1``) and typos in a step name are user errors, not tracebacks."""
    execute_flow(flows.CardFlow, datastore_root, run_id="cli2")
    capsys.readouterr()
    with pytest.raises(SystemExit) as stopped:
        run_flow_cli(flows.CardFlow, command)
    error = capsys.readouterr().err
    assert stopped.value.code == 1 and message in error and "Traceback" not in error


RESUMED_CARD_FLOW = """
    import os
    from flowkit import Flow, card, current, step
    from flowkit.cards import Markdown

    class ResumedCardFlow(Flow):
        @card
        @step
        def start(self):
            current.card.append(Markdown("rendered by the origin run"))
            self.next(self.end)

        @step
        def end(self):
            if os.environ.get("FAIL_END"):
                raise RuntimeError("end fails in the origin run")

    if __name__ == "__main__":
        ResumedCardFlow()
"""


def test_a_task_a_resume_reused_shows_its_origin_task_s_cards(datastore_root: Path, tmp_path: Path) -> None:
    """Metaflow's get_cards(follow_resumed=True): the reused start of a resumed run still has its card, everywhere
    cards are listed (client, card commands, web UI)."""
    flow_file = write_flow(tmp_path, RESUMED_CARD_FLOW)
    failed, origin = run_flow_file(flow_file, datastore_root=datastore_root, env={"FAIL_END": "1"})
    assert failed.returncode == 1
    resumed, run = run_flow_file(flow_file, datastore_root=datastore_root, command="resume")
    assert resumed.returncode == 0 and run.id != origin.id, describe(resumed)
    start = run["start"].task
    assert start.metadata is not None and start.metadata.origin_run_id == origin.id
    (reused,) = get_cards(start)
    assert "rendered by the origin run" in reused.get() and origin.id in str(reused.path)
    assert get_cards(start, follow_resumed=False) == []
    listed = flow_command(flow_file, "card", "list", f"{run.id}/start", datastore_root=datastore_root)
    assert "type=default" in listed.stdout, describe(listed)


CARD_RENDERING_MODULES = ["components", "markdown", "vega", "dag", "page", "default", "collector", "task", "storage"]


@pytest.mark.parametrize("module", CARD_RENDERING_MODULES)
def test_code_that_renders_cards_in_a_task_imports_only_the_standard_library(module: str) -> None:
    """A pod's image holds CPython and the shipped code only, so card rendering may import nothing else."""
    path = REPO_ROOT / "flowkit" / "cards" / f"{module}.py"
    imported = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            imported.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            imported.add(node.module.split(".")[0])
    assert imported - set(sys.stdlib_module_names) - {"flowkit"} == set()


@pytest.mark.parametrize(
    ("flow", "prepared"),
    [("tests.cards.flows:CardFlow", "True ['start', 'work']"), ("tests.execution.flows:ForeachFlow", "False []")],
)
def test_the_local_scheduler_prepares_the_card_renderer_once_for_flows_with_cards(
    tmp_path: Path, flow: str, prepared: str
) -> None:
    """Forked tasks inherit the renderer from the scheduler instead of each importing it (about 10 ms of CPU per
    task, more than a short task itself), and the outlined DAG of each step with @card, drawn once before forking;
    a flow without @card never loads the renderer (checked in a fresh interpreter)."""
    import subprocess

    module, name = flow.split(":")
    probe = (
        "import sys, importlib\n"
        "from flowkit.runtime.api import run_flow\n"
        f"flow_cls = getattr(importlib.import_module({module!r}), {name!r})\n"
        f"assert run_flow(flow_cls, {{}}, datastore_root={str(tmp_path)!r}, quiet=True).successful\n"
        "dag = sys.modules.get('flowkit.cards.dag')\n"
        "drawn = sorted(step for _, steps in dag._OUTLINED.values() for step in steps) if dag else []\n"
        "print('flowkit.cards.task' in sys.modules, drawn)\n"
    )
    output = subprocess.run([sys.executable, "-c", probe], cwd=REPO_ROOT, capture_output=True, text=True, check=True)
    assert output.stdout.strip().splitlines()[-1] == prepared


def test_a_run_without_cards_never_loads_the_card_modules(tmp_path: Path) -> None:
    """What "a task without @card pays nothing" means: not even an import (checked in a fresh interpreter)."""
    import subprocess

    probe = (
        "import sys\n"
        "from pathlib import Path\n"
        "from tests.execution import flows\n"
        "from tests.execution.conftest import execute_flow\n"
        f"results = execute_flow(flows.ForeachFlow, Path({str(tmp_path)!r}), parameters={{'width': '2'}})\n"
        "assert all(result.succeeded for step in results.values() for result in step)\n"
        "print(sorted(name for name in sys.modules if name.startswith('flowkit.cards')))\n"
    )
    output = subprocess.run([sys.executable, "-c", probe], cwd=REPO_ROOT, capture_output=True, text=True, check=True)
    assert output.stdout.strip() == "[]"
    assert not list(tmp_path.rglob("cards"))


def test_components_are_deleted_added_and_replaced_by_id_and_found_by_type_as_metaflow_s_are(tmp_path: Path) -> None:
    """``del current.card.components[id]``, ``components[id] = c`` (a new id only), ``current.card["id"] = [...]``
    and ``current.card.get(type=..., id=...)``; the written card shows exactly what is left."""
    store = DataStore(tmp_path)
    coords = TaskRef("CardFlow", "edit", "work", (0,))
    declarations = [CardDeclaration(), CardDeclaration(type="blank", id="a"), CardDeclaration(type="blank", id="b")]
    cards = TaskCards(declarations, store, coords, 0, build_graph(flows.CardFlow), [], utc_now())
    current_card = cards.collector
    current_card.append(Markdown("kept"))
    current_card.append(Markdown("dropped"), id="draft")
    current_card.components["extra"] = Markdown("added by id")
    assert current_card.components.keys() == ["draft", "extra"]
    with pytest.raises(KeyError, match=r"already has a component with id 'extra'; del current.card.components"):
        current_card.components["extra"] = Markdown("overwrite")
    del current_card.components["draft"]
    with pytest.raises(KeyError, match=r"@card default has no component with id 'draft'; its ids: 'extra'"):
        del current_card.components["draft"]
    current_card["a"].append(Markdown("old a"))
    current_card["a"] = [Markdown("new a")]
    assert current_card["a"].components is current_card["a"]  # Metaflow's current.card["a"].components[...]

    assert current_card.get(type="blank") == [current_card["a"], current_card["b"]]
    assert current_card.get(type="blank", id="b") == [current_card["b"]]
    assert current_card.get(id="a") == [current_card["a"]] and current_card.get(type="nothing") == []

    record = task_record(coords, exit_code=0)
    cards.write_final(record)
    default_page = (store.task_dir(coords) / "cards" / "0.default.html").read_text()
    assert "kept" in default_page and "added by id" in default_page and "dropped" not in default_page
    card_a = (store.task_dir(coords) / "cards" / "0.blank.a.html").read_text()
    assert "new a" in card_a and "old a" not in card_a


def test_current_card_calls_in_a_step_without_card_are_dropped() -> None:
    nothing = NoCards()
    nothing.components["x"] = Markdown("y")
    del nothing.components["x"]
    assert nothing.get(type="default") == [] and "x" not in nothing


def test_the_default_card_shows_values_the_task_held_and_reads_no_blob_back(tmp_path: Path) -> None:
    """Reprs come from the values the step set or read, taken when they were persisted; an inherited artifact the step
    did not read is listed without its value, since reading it back would cost every task a blob read."""
    store = DataStore(tmp_path)
    coords = TaskRef("CardFlow", "memory", "work", (0,))
    cards = TaskCards([CardDeclaration()], store, coords, 0, build_graph(flows.CardFlow), ["alpha"], utc_now())
    missing_blob = ArtifactRef(sha256="0" * 64, size=12, type="list")  # its bytes were never stored
    artifacts = {"alpha": missing_blob, "square": missing_blob, "items": missing_blob}
    cards.remember_values({"alpha": 0.5, "square": [3, 3]})
    cards.write_final(task_record(coords, exit_code=0, artifacts=artifacts))
    page = (store.task_dir(coords) / "cards" / "0.default.html").read_text()
    assert "<td>alpha</td><td>0.5</td>" in page and "<td>square</td><td>list</td><td>12 B</td><td>[3, 3]</td>" in page
    assert f"<td>items</td><td>list</td><td>12 B</td><td>{NOT_READ}</td>" in page
    assert "cannot load" not in page


def test_a_running_task_s_cards_show_the_values_of_artifacts_it_set_or_read(datastore_root: Path) -> None:
    execute_flow(flows.CardFlow, datastore_root, run_id="c5")
    page = get_cards("CardFlow/c5/work/0.2", type="default")[0].get()
    assert "<td>square</td><td>int</td><td>5 B</td><td>9</td>" in page  # set by the step
    assert re.search(rf"<td>items</td><td>list</td><td>[^<]+</td><td>{re.escape(NOT_READ)}</td>", page)
    start_page = get_cards("CardFlow/c5/start/0", type="default")[0].get()
    assert re.search(r"<td>items</td><td>list</td><td>[^<]+</td><td>\[1, 2, 3\]</td>", start_page)
