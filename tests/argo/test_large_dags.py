"""DAGs over Argo's 200-task limit become nested segment DAGs that a cluster accepts and that run like a local run.

Structure tests use the real limit on 1,000-step and 300-way flows; the emulated runs that cross every kind of
segment boundary (a foreach split list, a body's index path, two levels of nesting) use a small limit, so that
small flows exercise exactly the code a 1,000-step flow does.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator
from pathlib import Path

import pytest

from flowkit.compiler import compiler, segments
from flowkit.compiler.segments import MAX_DAG_TASKS, MAX_TEMPLATES, split_large_dags
from flowkit.errors import FlowDefinitionError
from tests.argo.conftest import (
    Manifest,
    arguments,
    branched_flow_source,
    compile_manifests,
    linear_flow_source,
    load_flow_source,
    templates,
)
from tests.argo.test_e2e import assert_same_as_local_run, shape
from tests.support.argo_schema import crd_openapi_schema, validate_manifest


def _dag_templates(manifest: Manifest) -> dict[str, Manifest]:
    return {name: template for name, template in templates(manifest).items() if "dag" in template}


def _step_placement(manifest: Manifest) -> Iterator[tuple[str, str, Manifest]]:
    """(step, DAG template, task) for every task that runs a step's container."""
    by_name = templates(manifest)
    for name, template in _dag_templates(manifest).items():
        for task in template["dag"]["tasks"]:
            if "container" in by_name[task["template"]]:
                yield arguments(task)["step"], name, task


def _finished_before(manifest: Manifest, dag: str, task: str) -> set[str]:
    """Every step whose task Argo has finished before ``task`` of DAG template ``dag`` starts.

    Inside a DAG that is its dependencies' closure; a DAG called by another adds everything finished before the
    calling task and inside the calling task's dependencies (segments included, whole).
    """
    by_name = templates(manifest)
    callers = {
        called["template"]: (caller, called["name"])
        for caller, template in _dag_templates(manifest).items()
        for called in template["dag"]["tasks"]
    }

    def inside(template_name: str) -> set[str]:
        steps: set[str] = set()
        for member in by_name[template_name].get("dag", {}).get("tasks", []):
            target = by_name[member["template"]]
            steps |= {arguments(member)["step"]} if "container" in target else inside(member["template"])
        return steps

    finished: set[str] = set()
    while True:
        tasks = {member["name"]: member for member in by_name[dag]["dag"]["tasks"]}
        pending, seen = list(tasks[task].get("dependencies", [])), set()
        while pending:
            name = pending.pop()
            if name in seen:
                continue
            seen.add(name)
            member = tasks[name]
            target = by_name[member["template"]]
            finished |= {arguments(member)["step"]} if "container" in target else inside(member["template"])
            pending += member.get("dependencies", [])
        if dag not in callers:
            return finished
        dag, task = callers[dag]


def _assert_every_parent_finishes_first(manifest: Manifest, parents: dict[str, list[str]]) -> None:
    placement = {step: (dag, task["name"]) for step, dag, task in _step_placement(manifest)}
    for step, step_parents in parents.items():
        before = _finished_before(manifest, *placement[step])
        assert set(step_parents) <= before, (step, sorted(set(step_parents) - before))


def _parents(flow_cls: type) -> dict[str, list[str]]:
    from flowkit.graph import build_graph

    return {name: node.parents for name, node in build_graph(flow_cls).steps.items()}


def test_a_thousand_step_chain_becomes_segments_of_at_most_200_tasks(tmp_path: Path) -> None:
    flow_cls = load_flow_source(tmp_path, linear_flow_source(1000), "GeneratedFlow")
    (manifest,) = compile_manifests(flow_cls)
    validate_manifest(manifest)
    dags = _dag_templates(manifest)
    assert all(len(template["dag"]["tasks"]) <= MAX_DAG_TASKS for template in dags.values())
    steps = [step for step, _, _ in _step_placement(manifest)]
    assert sorted(steps) == sorted(_parents(flow_cls)) and len(steps) == 1002
    # The entry DAG chains the six segments in order.
    entry = dags["flow"]["dag"]["tasks"]
    assert [(task["name"], task.get("dependencies")) for task in entry] == [
        ("part-1", None), *((f"part-{n}", [f"part-{n - 1}"]) for n in range(2, 7))
    ]  # fmt: skip
    _assert_every_parent_finishes_first(manifest, _parents(flow_cls))


def test_a_300_way_split_runs_its_branches_in_side_by_side_segments(tmp_path: Path) -> None:
    flow_cls = load_flow_source(tmp_path, branched_flow_source(303, branch_length=1), "BranchedFlow")
    (manifest,) = compile_manifests(flow_cls)
    validate_manifest(manifest)
    entry = {task["name"]: task for task in _dag_templates(manifest)["flow"]["dag"]["tasks"]}
    # start | branches 0-199 | branches 200-299 | join, end: both branch segments wait for start only.
    assert {name: task.get("dependencies") for name, task in entry.items()} == {
        "part-1": None, "part-2": ["part-1"], "part-3": ["part-1"], "part-4": ["part-2", "part-3"]
    }  # fmt: skip
    assert [len(_dag_templates(manifest)[f"flow--part-{n}"]["dag"]["tasks"]) for n in range(1, 5)] == [1, 200, 100, 2]
    _assert_every_parent_finishes_first(manifest, _parents(flow_cls))


@pytest.fixture
def small_limit(monkeypatch: pytest.MonkeyPatch) -> int:
    """Cut DAGs at 2 tasks, so that small flows cross segment boundaries everywhere."""
    monkeypatch.setattr(compiler, "split_large_dags", functools.partial(split_large_dags, limit=2))
    return 2


CROSSING = """
from flowkit import Flow, kubernetes, step


@kubernetes(image="img:1")
class CrossingFlow(Flow):
    \"\"\"Each foreach step sits at an odd level, so a 2-task cut puts it and its fan-out in different segments.\"\"\"

    @step
    def start(self):
        self.items = [1, 2]
        self.next(self.outer)

    @step
    def outer(self):
        self.rows = [item * 10 for item in self.items]
        self.next(self.first, foreach="rows")

    @step
    def first(self):
        self.row = self.input
        self.next(self.inner)

    @step
    def inner(self):
        self.cells = [self.row + 1, self.row + 2]
        self.next(self.leaf, foreach="cells")

    @step
    def leaf(self):
        self.value = self.input * 2
        self.next(self.join_inner)

    @step
    def join_inner(self, inputs):
        self.values = sorted(task.value for task in inputs)
        self.next(self.join_outer)

    @step
    def join_outer(self, inputs):
        self.every_value = sorted(value for task in inputs for value in task.values)
        self.next(self.end)

    @step
    def end(self):
        pass
"""


def _project_flow(tmp_path: Path, source: str, name: str) -> type:
    """Flow ``name`` of ``source``, in a project directory of its own (the code package holds nothing else)."""
    project = tmp_path / "project"
    project.mkdir(exist_ok=True)
    return load_flow_source(project, source, name)


def _crossing_flow(tmp_path: Path) -> type:
    return _project_flow(tmp_path, CROSSING, "CrossingFlow")


def test_split_lists_and_index_paths_crossing_segments_are_passed_explicitly(small_limit: int, tmp_path: Path) -> None:
    flow_cls = _crossing_flow(tmp_path)
    manifest = compile_manifests(flow_cls)[0]
    validate_manifest(manifest)
    dags = _dag_templates(manifest)
    assert all(len(template["dag"]["tasks"]) <= small_limit for template in dags.values())
    # start, outer | outer-foreach, join-outer | end: the split list leaves part 1 as an output parameter...
    assert dags["flow--part-1"]["outputs"] == {
        "parameters": [
            {"name": "outer-splits", "valueFrom": {"parameter": "{{tasks.outer.outputs.parameters.splits}}"}}
        ]
    }
    # ...that the DAG calling parts 1 and 2 (itself part 4 of the entry DAG's second cut: 3 parts are too many)
    # passes to part 2, whose fan-out reads it as an input.
    assert [task["template"] for task in dags["flow"]["dag"]["tasks"]] == ["flow--part-4", "flow--part-5"]
    caller = {task["name"]: task for task in dags["flow--part-4"]["dag"]["tasks"]}
    assert arguments(caller["part-2"]) == {"outer-splits": "{{tasks.part-1.outputs.parameters.outer-splits}}"}
    assert caller["part-2"]["dependencies"] == ["part-1"]
    fan_out = {task["name"]: task for task in dags["flow--part-2"]["dag"]["tasks"]}["outer-foreach"]
    assert fan_out["withParam"] == "{{inputs.parameters.outer-splits}}"
    # Inside the body (first, inner | inner-foreach, join-inner), the segments also need the body's index path.
    body = {task["name"]: task for task in dags["body-outer"]["dag"]["tasks"]}
    assert arguments(body["part-2"]) == {
        "index-path": "{{inputs.parameters.index-path}}",
        "inner-splits": "{{tasks.part-1.outputs.parameters.inner-splits}}",
    }
    assert dags["body-outer--part-2"]["inputs"] == {"parameters": [{"name": "index-path"}, {"name": "inner-splits"}]}
    _assert_every_parent_finishes_first(manifest, _parents(flow_cls))


def test_many_segments_nest_again_and_every_dependency_still_holds(small_limit: int, tmp_path: Path) -> None:
    flow_cls = load_flow_source(tmp_path, linear_flow_source(14), "GeneratedFlow")
    (manifest,) = compile_manifests(flow_cls)
    validate_manifest(manifest)
    dags = _dag_templates(manifest)
    assert all(len(template["dag"]["tasks"]) <= small_limit for template in dags.values())
    # 16 steps: 8 segments, called by 4, called by 2, called by the entry DAG.
    assert len(dags) == 1 + 8 + 4 + 2
    _assert_every_parent_finishes_first(manifest, _parents(flow_cls))


@pytest.mark.e2e
def test_a_flow_crossing_segments_everywhere_runs_like_a_local_run(small_limit: int, tmp_path: Path) -> None:
    _, argo_run = assert_same_as_local_run(_crossing_flow(tmp_path), tmp_path)
    assert argo_run.data.every_value == [22, 24, 42, 44]


@pytest.mark.e2e
@pytest.mark.parametrize("name", ["NestedForeachFlow", "BranchInForeachFlow", "OperatedFlow"])
def test_segmented_shapes_run_like_a_local_run(name: str, small_limit: int, tmp_path: Path) -> None:
    assert_same_as_local_run(shape(name), tmp_path)


def test_more_templates_than_argo_accepts_is_refused_naming_the_cause(tmp_path: Path) -> None:
    source = linear_flow_source(MAX_TEMPLATES)
    # Every step its own pod spec: one container template per step.
    for index in range(MAX_TEMPLATES):
        source = source.replace(
            f"    @step\n    def step_{index}(",
            f"    @kubernetes(memory='{index + 1}Mi')\n    @step\n    def step_{index}(",
        )
    flow_cls = load_flow_source(tmp_path, source, "GeneratedFlow")
    with pytest.raises(FlowDefinitionError, match=r"needs 205 templates \(202 distinct pod specs, 3 DAGs") as error:
        compile_manifests(flow_cls)
    assert error.value.flow == "GeneratedFlow"


def test_the_limits_are_argos_crd_limits() -> None:
    spec = crd_openapi_schema("WorkflowTemplate")["properties"]["spec"]["properties"]
    assert spec["templates"]["maxItems"] == segments.MAX_TEMPLATES
    assert spec["templates"]["items"]["properties"]["dag"]["properties"]["tasks"]["maxItems"] == MAX_DAG_TASKS


_COUNTING_HEADER = """
from flowkit import Flow, kubernetes, step


@kubernetes(image="img:1")
class {name}(Flow):
    @step
    def start(self):
        self.count = 0
        self.next({first})
"""
_COUNTING_STEP = """
    @step
    def {step}(self):
        self.count += 1
        self.value = {index}
        self.next(self.{following})
"""
_COUNTING_JOIN = """
    @step
    def join(self, inputs):
        self.values = sorted(task.value for task in inputs)
        self.next(self.end)
"""
_COUNTING_END = """
    @step
    def end(self):
        pass
"""


def _counting_chain_source(steps: int) -> str:
    """ChainFlow: start, ``steps`` steps each adding one to a counter, end."""
    names = [f"step_{index}" for index in range(steps)]
    body = (_COUNTING_STEP.format(step=name, index=index, following=following)
            for index, (name, following) in enumerate(zip(names, [*names[1:], "end"], strict=True)))  # fmt: skip
    return _COUNTING_HEADER.format(name="ChainFlow", first=f"self.{names[0]}") + "".join(body) + _COUNTING_END


def _counting_split_source(width: int) -> str:
    """SplitFlow: start, a static split into ``width`` one-step branches each setting its own value, join, end."""
    names = [f"branch_{index}" for index in range(width)]
    body = "".join(_COUNTING_STEP.format(step=name, index=index, following="join") for index, name in enumerate(names))
    first = ", ".join(f"self.{name}" for name in names)
    return _COUNTING_HEADER.format(name="SplitFlow", first=first) + body + _COUNTING_JOIN + _COUNTING_END


@pytest.mark.e2e
def test_a_chain_longer_than_argos_limit_runs_like_a_local_run(tmp_path: Path) -> None:
    _, argo_run = assert_same_as_local_run(_project_flow(tmp_path, _counting_chain_source(210), "ChainFlow"), tmp_path)
    assert argo_run.data.count == 210 and argo_run.data.value == 209


@pytest.mark.e2e
def test_a_split_wider_than_argos_limit_runs_like_a_local_run(tmp_path: Path) -> None:
    _, argo_run = assert_same_as_local_run(_project_flow(tmp_path, _counting_split_source(210), "SplitFlow"), tmp_path)
    assert argo_run["join"].task.data.values == list(range(210))
