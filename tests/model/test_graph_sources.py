"""Where the graph comes from: per-function source (notebook-style classes), the exit handler, and the cache."""

from __future__ import annotations

import inspect
import json
import linecache
import subprocess
import sys
import types
from pathlib import Path

import cloudpickle
import pytest

from flowkit.errors import FlowDefinitionError
from flowkit.graph import build_graph
from flowkit.specs import resolve_step_specs
from tests.model.conftest import LoadFlow, line_of

NOTEBOOK_CELL = """\
from flowkit.authoring.step import step

class CellFlow:
    @step
    def start(self):
        self.items = [1, 2]
        self.next(self.work, foreach="items")

    @step
    def work(self):
        self.next(self.join)

    @step
    def join(self, inputs):
        self.next(self.end)

    @step
    def end(self):
        pass
"""


def _define_in_cell(module_name: str, cell_name: str) -> type:
    """Run `NOTEBOOK_CELL` the way a Jupyter kernel does: source only in linecache, module without a file."""
    linecache.cache[cell_name] = (len(NOTEBOOK_CELL), None, NOTEBOOK_CELL.splitlines(keepends=True), cell_name)
    module = types.ModuleType(module_name)
    exec(compile(NOTEBOOK_CELL, cell_name, "exec"), module.__dict__)
    flow_cls: type = module.__dict__["CellFlow"]
    return flow_cls


def test_class_defined_in_a_notebook_cell() -> None:
    cell = "<ipython-input-7-flowkit-model>"
    try:
        flow_cls = _define_in_cell("__main__", cell)
        if sys.version_info < (3, 13):  # 3.13 finds a class's source from its __firstlineno__, a kernel's too
            with pytest.raises((OSError, TypeError)):
                inspect.getsource(flow_cls)  # the class's own source cannot be found, exactly as in a kernel
        graph = build_graph(flow_cls)
    finally:
        linecache.cache.pop(cell, None)
    assert graph.topological_order() == ["start", "work", "join", "end"]
    assert graph.steps["start"].foreach_var == "items"
    assert graph.steps["join"].lineno == NOTEBOOK_CELL.splitlines().index("    def join(self, inputs):") + 1


def test_cached_graph_and_specs_travel_with_a_class_pickled_by_value(tmp_path: Path) -> None:
    cell = "<ipython-input-8-flowkit-model>"
    module_name = "flowkit_model_fake_notebook"
    flow_cls = _define_in_cell(module_name, cell)
    module = sys.modules[module_name] = types.ModuleType(module_name)
    try:
        cloudpickle.register_pickle_by_value(module)
        graph = build_graph(flow_cls)
        specs = resolve_step_specs(flow_cls)
        payload = tmp_path / "flow.pkl"
        payload.write_bytes(cloudpickle.dumps(flow_cls))
    finally:
        cloudpickle.unregister_pickle_by_value(module)
        del sys.modules[module_name]
        linecache.cache.pop(cell, None)
    # Like a pod: a fresh interpreter where neither the module nor the cell's source exists.
    remote = (
        "import json, sys, cloudpickle\n"
        "from flowkit.graph import build_graph\n"
        "from flowkit.specs import resolve_step_specs\n"
        "cls = cloudpickle.loads(open(sys.argv[1], 'rb').read())\n"
        "specs = {name: spec.model_dump(mode='json') for name, spec in resolve_step_specs(cls).items()}\n"
        "print(json.dumps({'graph': build_graph(cls).to_dict(), 'specs': specs}))\n"
    )
    output = subprocess.run(
        [sys.executable, "-c", remote, str(payload)], check=True, capture_output=True, text=True
    ).stdout
    received = json.loads(output)
    assert received["graph"] == json.loads(json.dumps(graph.to_dict()))
    assert received["specs"] == {name: spec.model_dump(mode="json") for name, spec in specs.items()}


def test_graph_is_cached_in_the_class_own_dict(load_flow: LoadFlow) -> None:
    source = """
class F:
    @step
    def start(self):
        self.next(self.end)

    @step
    def end(self):
        pass

class G(F):
    @step
    def start(self):
        self.next(self.middle)

    @step
    def middle(self):
        self.next(self.end)
"""
    parent = load_flow(source)
    child = load_flow(source, "G")
    graph = build_graph(parent)
    assert build_graph(parent) is graph and vars(parent)["__flowkit_graph__"] is graph
    assert build_graph(child).topological_order() == ["start", "middle", "end"]


EXIT_HANDLER = """
@argo(on_exit="notify")
class F:
    @step
    def start(self):
        self.next(self.end)

    @step
    def end(self):
        pass

    @step
    def notify(self):  # HERE
        print("done")
"""


def test_exit_handler_is_last_and_exempt_from_reachability(load_flow: LoadFlow) -> None:
    graph = build_graph(load_flow(EXIT_HANDLER))
    assert graph.topological_order() == ["start", "end", "notify"]
    handler = graph.steps["notify"]
    assert handler.is_exit_handler and handler.transition == "end" and handler.parents == []
    assert handler.lineno == line_of(EXIT_HANDLER, "# HERE")
    assert not graph.steps["end"].is_exit_handler


@pytest.mark.parametrize(
    ("source", "step", "message"),
    [
        (EXIT_HANDLER.replace('print("done")', "self.next(self.end)"), "notify", "not call self.next"),
        (EXIT_HANDLER.replace("self.next(self.end)", "self.next(self.notify)", 1), "start", "run by Argo"),
    ],
)
def test_exit_handler_misuse(load_flow: LoadFlow, source: str, step: str, message: str) -> None:
    with pytest.raises(FlowDefinitionError, match=message) as raised:
        build_graph(load_flow(source))
    assert raised.value.step == step


def test_exit_handler_must_be_a_step(load_flow: LoadFlow) -> None:
    with pytest.raises(FlowDefinitionError) as raised:
        build_graph(load_flow(EXIT_HANDLER.replace('on_exit="notify"', 'on_exit="cleanup"')))
    assert (raised.value.decorator, raised.value.field) == ("argo", "on_exit")
    assert "'cleanup' is not a step" in str(raised.value)


def test_class_decorator_clears_a_stale_graph(load_flow: LoadFlow) -> None:
    from flowkit import argo

    flow_cls = load_flow(EXIT_HANDLER.replace('@argo(on_exit="notify")\n', ""))
    with pytest.raises(FlowDefinitionError, match=r"does not call self\.next"):
        build_graph(flow_cls)
    argo(on_exit="notify")(flow_cls)
    assert build_graph(flow_cls).steps["notify"].is_exit_handler
