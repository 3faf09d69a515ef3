"""A flow without decorators gets its graph and step specs without importing pydantic.

Importing pydantic and building its first models is most of the fixed start-up cost of ``python myflow.py run``, so
the model layer only loads the spec models when a flow declares a decorator.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from flowkit.specs import KubernetesSpec, RetrySpec
from tests.runtime.cli_runner import REPO_ROOT

PROBE = """
import json, sys
sys.path.insert(0, {repo!r})
from flowkit import Flow, step
from flowkit.graph import build_graph
from flowkit.specs import StepSpec, resolve_step_specs


class PlainFlow(Flow):
    @step
    def start(self):
        self.next(self.end)

    @step
    def end(self):
        pass


graph = build_graph(PlainFlow)
specs = resolve_step_specs(PlainFlow)
dumped = {{name: spec.model_dump(mode="json") for name, spec in specs.items()}}
print(json.dumps({{"pydantic": "pydantic" in sys.modules, "order": graph.topological_order(), "specs": dumped}}))
"""


def test_graph_and_specs_of_a_flow_without_decorators_do_not_import_pydantic(tmp_path: Path) -> None:
    flow_file = tmp_path / "plain.py"
    flow_file.write_text(PROBE.format(repo=str(REPO_ROOT)))
    result = subprocess.run([sys.executable, str(flow_file)], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    probe = json.loads(result.stdout)

    assert probe["pydantic"] is False
    assert probe["order"] == ["start", "end"]
    assert probe["specs"]["end"] == {
        "step": "end",
        "kubernetes": KubernetesSpec().model_dump(mode="json"),
        "retry": RetrySpec(times=0).model_dump(mode="json"),
        "timeout": None,
        "environment_vars": {},
        "catch": None,
        "conda": None,
    }
