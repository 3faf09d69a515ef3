"""A flow defined in a notebook cell runs through a real Jupyter kernel and its artifacts come back in the next cell.

The class exists only in the kernel's `__main__`: the runtime forks its tasks from the kernel process, so no task
needs to import the notebook.
"""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

DEFINE_FLOW = '''
from flowkit import Flow, Parameter, step


class SquaresFlow(Flow):
    """Sums the squares of 0..n-1 with a foreach."""

    n = Parameter("n", default=3)

    @step
    def start(self):
        self.items = list(range(self.n))
        self.next(self.square, foreach="items")

    @step
    def square(self):
        print("squaring", self.input)
        self.value = self.input ** 2
        self.next(self.join)

    @step
    def join(self, inputs):
        self.total = sum(task.value for task in inputs)
        self.next(self.end)

    @step
    def end(self):
        pass
'''

RUN_FLOW = "run = SquaresFlow.run(n=4, max_workers=2, datastore_root={root!r})"

READ_RESULTS = """
from flowkit import Run

assert run.successful
latest = Run.latest("SquaresFlow", datastore_root={root!r})
print("TOTAL", run.data.total, latest.id == run.id, len(run["square"].tasks))
"""


def kernel_for_this_interpreter(directory: Path) -> str:
    """Install a kernelspec that starts this very interpreter, into a private Jupyter data directory."""
    from ipykernel.kernelspec import install

    name = "flowkit-test"
    install(kernel_name=name, prefix=str(directory))
    return name


@pytest.mark.e2e
def test_flow_defined_in_a_notebook_cell_runs_and_returns_artifacts(
    tmp_path: Path, datastore_root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    jupyter_data = tmp_path / "jupyter"
    kernel_name = kernel_for_this_interpreter(jupyter_data)
    monkeypatch.setenv("JUPYTER_PATH", str(jupyter_data / "share" / "jupyter"))
    monkeypatch.setenv("PYTHONPATH", str(Path(__file__).resolve().parents[2]))
    notebook = nbformat.v4.new_notebook(
        cells=[
            nbformat.v4.new_code_cell(DEFINE_FLOW),
            nbformat.v4.new_code_cell(RUN_FLOW.format(root=str(datastore_root))),
            nbformat.v4.new_code_cell(READ_RESULTS.format(root=str(datastore_root))),
        ],
        metadata={"kernelspec": {"name": kernel_name, "display_name": "flowkit test", "language": "python"}},
    )
    path = tmp_path / "squares.ipynb"
    nbformat.write(notebook, path)

    executed = NotebookClient(
        nbformat.read(path, as_version=4),
        kernel_name=kernel_name,
        timeout=180,
        resources={"metadata": {"path": tmp_path}},
    ).execute()

    outputs = "".join(output.get("text", "") for output in executed.cells[2].outputs)
    assert outputs.strip() == "TOTAL 14 True 4"
    run_output = "".join(output.get("text", "") for output in executed.cells[1].outputs)
    assert "[square/0.3] squaring 3" in run_output, "task output is streamed into the notebook"
