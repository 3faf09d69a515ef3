"""DAG scheduling: order, depends, fan-out, nested DAGs, failure propagation, parallelism bound."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.harness.conftest import Emulate
from tests.harness.manifests import DATA_MOUNT, dag, python_step, sh_step, task, workflow_template

pytestmark = pytest.mark.timeout(120)  # an emulator bug must fail a test, not hang the suite

APPEND_NAME = f"echo {{{{inputs.parameters.name}}}} >> {DATA_MOUNT}/order"


COUNT_FILES = f"import os; n = len(os.listdir('{DATA_MOUNT}')); open('{DATA_MOUNT}/joined', 'w').write(str(n))"


def _lines(path: Path) -> list[str]:
    return path.read_text(encoding="utf-8").splitlines()


def test_diamond_runs_in_dependency_order(emulate: Emulate, pvc_dir: Path) -> None:
    manifest = workflow_template(
        dag(
            "main",
            task("a", "log", arguments={"name": "a"}),
            task("b", "log", arguments={"name": "b"}, dependencies=["a"]),
            task("c", "log", arguments={"name": "c"}, depends="a"),
            task("d", "log", arguments={"name": "d"}, depends="b && c.Succeeded"),
        ),
        sh_step("log", APPEND_NAME, inputs=("name",)),
    )
    run = emulate(manifest)
    run.assert_succeeded()
    order = _lines(pvc_dir / "order")
    assert order[0] == "a" and order[-1] == "d" and sorted(order[1:3]) == ["b", "c"], order
    assert run.containers("log")[0].inputs["name"] == "a", "records are in completion order"


def test_when_skips_a_task_and_its_dependents_run_as_after_a_success(emulate: Emulate, pvc_dir: Path) -> None:
    branch = "'{{tasks.choose.outputs.parameters.branch}}'"
    manifest = workflow_template(
        dag(
            "main",
            task("choose", "choose"),
            task("left", "touch-left", dependencies=["choose"], when=f"{branch} == 'left'"),
            task("right", "touch-right", dependencies=["choose"], when=f"({branch} == 'right') || ({branch} == 'x')"),
            task("after", "touch-after", dependencies=["left", "right"]),
        ),
        sh_step("choose", "printf right > /tmp/branch", outputs={"branch": "/tmp/branch"}),
        sh_step("touch-left", f"touch {DATA_MOUNT}/left"),
        sh_step("touch-right", f"touch {DATA_MOUNT}/right"),
        sh_step("touch-after", f"touch {DATA_MOUNT}/after"),
    )
    run = emulate(manifest)
    run.assert_succeeded()
    assert sorted(path.name for path in pvc_dir.iterdir()) == ["after", "right"]
    assert run.node("left").phase == "Skipped"


def test_fan_out_over_output_parameter(emulate: Emulate, pvc_dir: Path) -> None:
    items = ["x", "y y", "zé"]
    manifest = workflow_template(
        dag(
            "main",
            task("split", "split"),
            task(
                "body", "body", depends="split", withParam="{{tasks.split.outputs.parameters.items}}",
                arguments={"value": "{{item}}"},
            ),
            task("join", "join", depends="body"),
        ),
        python_step("split", f"open('/tmp/items.json', 'w').write({json.dumps(items)!r})",
                    outputs={"items": "/tmp/items.json"}),
        python_step("body", f"import sys; open('{DATA_MOUNT}/' + sys.argv[1], 'w').write('done')",
                    args=("{{inputs.parameters.value}}",), inputs=("value",)),
        python_step("join", COUNT_FILES),
    )  # fmt: skip
    run = emulate(manifest)
    run.assert_succeeded()
    assert sorted(path.name for path in pvc_dir.iterdir()) == sorted([*items, "joined"])
    assert (pvc_dir / "joined").read_text() == "3", "join ran before every fan-out child finished"
    assert sorted(node.inputs["value"] for node in run.containers("body")) == sorted(items)
    assert not Path("/tmp/items.json").exists(), "an output file outside any volume leaked onto the host"


def test_with_items_of_objects_and_empty_fan_out(emulate: Emulate, pvc_dir: Path) -> None:
    manifest = workflow_template(
        dag(
            "main",
            task("objects", "log", withItems=[{"name": "first"}, {"name": "second"}],
                 arguments={"name": "{{item.name}}"}),
            task("none", "log", withParam="[]", arguments={"name": "never"}),
            task("after", "log", depends="none && objects", arguments={"name": "after"}),
        ),
        sh_step("log", APPEND_NAME, inputs=("name",)),
    )  # fmt: skip
    run = emulate(manifest)
    run.assert_succeeded()
    assert sorted(_lines(pvc_dir / "order")[:2]) == ["first", "second"]
    assert _lines(pvc_dir / "order")[2:] == ["after"]
    assert run.node("none").phase == "Skipped"


def test_nested_dag_receives_inputs_and_returns_outputs(emulate: Emulate, pvc_dir: Path) -> None:
    manifest = workflow_template(
        dag(
            "main",
            task("inner", "inner", arguments={"word": "hello"}),
            task("use", "log", depends="inner", arguments={"name": "{{tasks.inner.outputs.parameters.shout}}"}),
        ),
        dag(
            "inner",
            task("upper", "upper", arguments={"text": "{{inputs.parameters.word}}"}),
            inputs=("word",),
            outputs={"shout": "{{tasks.upper.outputs.parameters.result}}"},
        ),
        python_step("upper", "import sys; open('/tmp/r', 'w').write(sys.argv[1].upper() + '!\\n')",
                    args=("{{inputs.parameters.text}}",), inputs=("text",), outputs={"result": "/tmp/r"}),
        sh_step("log", APPEND_NAME, inputs=("name",)),
    )  # fmt: skip
    run = emulate(manifest)
    run.assert_succeeded()
    assert _lines(pvc_dir / "order") == ["HELLO!"]
    assert run.node("inner").outputs == {"shout": "HELLO!"}, "one trailing newline is dropped, as Argo does"


def test_failure_stops_dependents_and_fails_the_run(emulate: Emulate, pvc_dir: Path) -> None:
    manifest = workflow_template(
        dag(
            "main",
            task("bad", "fail"),
            task("dependent", "log", depends="bad", arguments={"name": "dependent"}),
            task("later", "log", depends="dependent", arguments={"name": "later"}),
        ),
        sh_step("fail", "echo boom >&2; exit 3"),
        sh_step("log", APPEND_NAME, inputs=("name",)),
    )
    run = emulate(manifest)
    assert run.phase == "Failed"
    assert not (pvc_dir / "order").exists()
    assert run.node("bad").exit_code == 3 and "boom" in run.node("bad").stderr
    assert run.node("dependent").phase == "Omitted" and run.node("later").phase == "Omitted"
    assert "bad" in run.message and "boom" in run.logs()


def test_fail_fast_starts_nothing_new_after_a_failure(emulate: Emulate, pvc_dir: Path) -> None:
    manifest = workflow_template(
        dag(
            "main",
            task("bad", "fail"),
            task("slow", "log", arguments={"name": "slow"}),
            task("after-slow", "log", depends="slow", arguments={"name": "after-slow"}),
        ),
        sh_step("fail", "exit 1"),
        sh_step("log", f"sleep 0.5; {APPEND_NAME}", inputs=("name",)),
    )
    run = emulate(manifest, max_parallel=2)
    assert run.phase == "Failed"
    assert _lines(pvc_dir / "order") == ["slow"], "a running task finishes, but no new task starts"


def test_max_parallel_bounds_running_containers(emulate: Emulate, pvc_dir: Path) -> None:
    probe = (
        f"import os, time; running = '{DATA_MOUNT}/running'; os.makedirs(running, exist_ok=True)\n"
        "me = os.path.join(running, str(os.getpid()))\n"
        f"if os.listdir(running): open('{DATA_MOUNT}/overlap', 'w').write('yes')\n"
        "open(me, 'w').close(); time.sleep(0.3); os.remove(me)"
    )
    manifest = workflow_template(dag("main", task("many", "probe", withItems=[1, 2, 3])), python_step("probe", probe))
    emulate(manifest, max_parallel=1).assert_succeeded()
    assert not (pvc_dir / "overlap").exists()


def test_dependency_cycle_is_an_error(emulate: Emulate) -> None:
    manifest = workflow_template(
        dag("main", task("a", "log", depends="b", arguments={"name": "a"}),
            task("b", "log", depends="a", arguments={"name": "b"})),
        sh_step("log", APPEND_NAME, inputs=("name",)),
    )  # fmt: skip
    with pytest.raises(ValueError, match="dependency cycle"):
        emulate(manifest)
