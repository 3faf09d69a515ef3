"""Config and config_expr: a configuration file's values in steps, parameter defaults and decorators."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from flowkit.specs import resolve_step_specs
from tests.runtime.cli_runner import describe, flow_command, run_flow_file

FLOWS = Path(__file__).parent / "flows"


@pytest.fixture
def flow_file(tmp_path: Path) -> Path:
    for name in ("config_flow.py", "train_config.json"):
        shutil.copy(FLOWS / name, tmp_path / name)
    return tmp_path / "config_flow.py"


def test_the_default_config_file_reaches_steps_parameters_and_decorators(
    flow_file: Path, datastore_root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    result, run = run_flow_file(flow_file, datastore_root=datastore_root)
    assert result.returncode == 0, describe(result)
    assert run.data.summary == {"name": "baseline", "depth": 3, "learning_rate": 0.1, "layers": [8, 4]}
    from flowkit.cli.main import load_flow_class

    monkeypatch.chdir(flow_file.parent)
    assert resolve_step_specs(load_flow_class(str(flow_file)))["start"].kubernetes.cpu == "2"


def test_a_config_given_before_the_command_replaces_the_default(flow_file: Path, datastore_root: Path) -> None:
    other = flow_file.parent / "other.json"
    other.write_text(json.dumps({"name": "wide", "model": {"depth": 9, "learning_rate": 0.5, "layers": []}}))
    run_id_file = datastore_root.parent / "run-id"
    result = flow_command(
        flow_file,
        "--config",
        "config",
        str(other),
        "run",
        "--run-id-file",
        str(run_id_file),
        datastore_root=datastore_root,
    )
    assert result.returncode == 0, describe(result)
    from flowkit.client import Run

    run = Run(f"ConfigFlow/{run_id_file.read_text().strip()}", datastore_root=datastore_root)
    assert run.data.summary == {"name": "wide", "depth": 9, "learning_rate": 0.5, "layers": []}
    inline = flow_command(flow_file, "--config-value", "config", '{"name": 1}', "run", datastore_root=datastore_root)
    assert inline.returncode == 1  # the parameter computed from the config fails before any task starts
    assert "ConfigFlow depth.default: config_expr('config.model.depth') failed" in inline.stderr
    unknown = flow_command(flow_file, "--config-value", "nope", "{}", "run", datastore_root=datastore_root)
    assert unknown.returncode == 2 and "has no Config 'nope'" in unknown.stderr
