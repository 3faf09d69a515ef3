"""Parameters: exact values end to end, overrides, workflow variables, outputs between tasks, unknown variables."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from tests.harness.conftest import Emulate
from tests.harness.manifests import DATA_MOUNT, container_step, dag, python_step, task, workflow_template
from tests.support.argo_emulator import UnresolvedVariable

pytestmark = pytest.mark.timeout(120)  # an emulator bug must fail a test, not hang the suite

TRICKY_VALUES = [
    "say \"hi\" and 'bye'",
    "line one\nline two\n",
    "unicode: é ✓ 日本 🚀",
    json.dumps({"nested": [1, "two", None, {"q": 'a "b"'}]}),
    "$HOME `ls` ; rm -rf / {{workflow.name}}",
    "",
]

# Writes its argument and its environment variable as JSON, so the test compares exact strings.
RECORD = (
    "import json, os, sys\n"
    f"open('{DATA_MOUNT}/' + os.environ['SLOT'], 'w', encoding='utf-8')"
    ".write(json.dumps({'arg': sys.argv[1], 'env': os.environ['VALUE']}))"
)


def _recorded(pvc_dir: Path, slot: str) -> dict[str, str]:
    return dict(json.loads((pvc_dir / slot).read_text(encoding="utf-8")))


def _record_step() -> dict:
    return python_step(
        "record", RECORD, inputs=("value", "slot"), args=("{{inputs.parameters.value}}",),
        env={"VALUE": "{{inputs.parameters.value}}", "SLOT": "{{inputs.parameters.slot}}"},
    )  # fmt: skip


@pytest.mark.parametrize("value", TRICKY_VALUES)
def test_workflow_parameter_arrives_byte_exact(emulate: Emulate, pvc_dir: Path, value: str) -> None:
    manifest = workflow_template(
        dag("main", task("record", "record", arguments={"value": "{{workflow.parameters.p}}", "slot": "out"})),
        _record_step(),
        parameters={"p": "default"},
    )
    emulate(manifest, arguments={"p": value}).assert_succeeded()
    assert _recorded(pvc_dir, "out") == {"arg": value, "env": value}


def test_default_parameter_and_output_parameter_round_trip(emulate: Emulate, pvc_dir: Path) -> None:
    tricky = TRICKY_VALUES[3] + "\n" + TRICKY_VALUES[2]
    manifest = workflow_template(
        dag(
            "main",
            task("emit", "emit"),
            task("record", "record", depends="emit",
                 arguments={"value": "{{tasks.emit.outputs.parameters.v}}", "slot": "out"}),
        ),
        python_step("emit", "import sys; open('/tmp/v', 'w', encoding='utf-8').write(sys.argv[1])",
                    args=("{{workflow.parameters.p}}",), outputs={"v": "/tmp/v"}),
        _record_step(),
        parameters={"p": tricky},
    )  # fmt: skip
    run = emulate(manifest)
    run.assert_succeeded()
    assert run.parameters == {"p": tricky}
    assert _recorded(pvc_dir, "out") == {"arg": tricky, "env": tricky}


def test_template_input_defaults_apply(emulate: Emulate, pvc_dir: Path) -> None:
    record = _record_step()
    record["inputs"]["parameters"][0]["default"] = "from default"
    manifest = workflow_template(dag("main", task("record", "record", arguments={"slot": "out"})), record)
    emulate(manifest).assert_succeeded()
    assert _recorded(pvc_dir, "out")["arg"] == "from default"


def test_workflow_and_pod_variables(emulate: Emulate, pvc_dir: Path) -> None:
    script = f"import sys; open('{DATA_MOUNT}/names', 'w').write('\\n'.join(sys.argv[1:]))"
    step = python_step("names", script, args=("{{workflow.name}}", "{{pod.name}}", "{{retries}}"))
    step["container"]["env"] = [{"name": "POD", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}}]
    run = emulate(workflow_template(dag("main", task("names", "names")), step))
    run.assert_succeeded()
    workflow_name, pod_name, retries = (pvc_dir / "names").read_text().split("\n")
    assert re.fullmatch(r"harness-[a-z0-9]{5}", workflow_name) and workflow_name == run.workflow_name
    assert pod_name.startswith(f"{workflow_name}-names-") and retries == "0"


def test_unknown_variable_is_an_error(emulate: Emulate) -> None:
    manifest = workflow_template(
        dag("main", task("a", "a")), container_step("a", ["echo", "{{inputs.parameters.missing}}"])
    )
    with pytest.raises(UnresolvedVariable, match=r"inputs\.parameters\.missing"):
        emulate(manifest)


def test_undeclared_argument_override_is_an_error(emulate: Emulate) -> None:
    manifest = workflow_template(dag("main", task("a", "a")), container_step("a", ["true"]), parameters={"p": "1"})
    with pytest.raises(ValueError, match="not workflow parameters"):
        emulate(manifest, arguments={"typo": "1"})


def test_parameter_enum_is_enforced(emulate: Emulate) -> None:
    manifest = workflow_template(dag("main", task("a", "a")), container_step("a", ["true"]), parameters={"p": "x"})
    manifest["spec"]["arguments"]["parameters"][0]["enum"] = ["x", "y"]
    emulate(manifest, arguments={"p": "y"}).assert_succeeded()
    with pytest.raises(ValueError, match="not one of"):
        emulate(manifest, arguments={"p": "z"})
