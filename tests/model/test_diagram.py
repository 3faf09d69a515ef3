"""`show --format mermaid|dot` and `output-dot`: shapes per kind of step, foreach edges, pod settings as labels and
hover tooltips."""

from __future__ import annotations

from click.testing import CliRunner

from flowkit import FlowSpec, argo, kubernetes, retry, step, timeout
from flowkit.cli.main import build_cli


@argo(on_exit="notify")
class ShapesFlow(FlowSpec):
    @step
    def start(self):
        self.next(self.fan, self.side)

    @kubernetes(cpu=2, memory="4Gi", image="python:3.12", gpu=1)
    @step
    def fan(self):
        self.items = [1, 2]
        self.next(self.each, foreach="items")

    @retry(times=2)
    @step
    def each(self):
        self.next(self.gather)

    @step
    def gather(self, inputs):
        self.next(self.join)

    @timeout(minutes=5)
    @step
    def side(self):
        self.next(self.join)

    @step
    def join(self, inputs):
        self.next(self.end)

    @step
    def end(self):
        pass

    @step
    def notify(self):
        pass


def show(*arguments: str) -> str:
    result = CliRunner().invoke(build_cli(ShapesFlow), list(arguments))
    assert result.exit_code == 0, result.output
    return result.output


def test_mermaid_shapes_edges_and_settings() -> None:
    lines = show("show", "--format", "mermaid").splitlines()
    assert lines[0] == "flowchart LR"
    assert '    step_start{"<b>start</b>"}' in lines  # a start that splits is drawn as a split
    assert '    step_fan{{"<b>fan</b><br/>image python:3.12<br/>cpu 2<br/>memory 4Gi<br/>gpu 1"}}' in lines
    assert '    step_each["<b>each</b><br/>retry 2"]' in lines
    assert '    step_gather[/"<b>gather</b>"\\]' in lines and '    step_join[/"<b>join</b>"\\]' in lines
    assert '    step_side["<b>side</b><br/>timeout 300 s"]' in lines
    assert '    step_end(["<b>end</b>"])' in lines
    assert "    style step_notify stroke-dasharray: 5 5" in lines
    assert "    step_fan -. foreach items .-> step_each" in lines
    assert "    step_start --> step_fan" in lines and "    step_start --> step_side" in lines
    assert "    step_join --> step_end" in lines
    assert not any(" end " in line or line.endswith(" end") for line in lines)  # `end` is reserved in Mermaid


def test_mermaid_nodes_show_their_pod_settings_on_hover() -> None:
    lines = show("show", "--format", "mermaid").splitlines()
    clicks = [line for line in lines if line.startswith("    click ")]
    assert '    click step_fan callback "image python:3.12, cpu 2, memory 4Gi, gpu 1"' in clicks
    assert '    click step_side callback "timeout 300 s"' in clicks
    assert '    click step_gather callback "gather"' in clicks  # default settings: the name says which step it is
    assert len(clicks) == 8  # every step, the exit handler too


def test_dot_is_the_same_graph_with_tooltips_and_output_dot_is_its_alias() -> None:
    dot = show("show", "--format", "dot")
    assert dot == show("output-dot")
    assert dot.startswith('digraph "ShapesFlow" {\n    rankdir=LR;')
    assert (
        '"fan" [shape="hexagon", label="fan\\nimage python:3.12\\ncpu 2\\nmemory 4Gi\\ngpu 1", '
        'tooltip="image python:3.12\\ncpu 2\\nmemory 4Gi\\ngpu 1"];' in dot
    )
    assert '"start" [shape="diamond"' in dot and '"gather" [shape="invtrapezium"' in dot
    assert (
        '"end" [shape="oval"' in dot
        and '"notify" [shape="box", label="notify", tooltip="notify", style="dashed"]' in dot
    )
    assert '"fan" -> "each" [style=dashed, label="foreach items"];' in dot
    assert dot.count("->") == 7 and dot.rstrip().endswith("}")
