"""`env lock|show|check` and `image` as a user types them (conda-lock's solvers doubled for `env lock`)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from flowkit.cli.main import build_cli, run_flow_cli
from tests.environments.conftest import INLINE_FLOW, FlowFactory, Standin
from tests.environments.solver_double import SolverDouble


def invoke(flow_cls: type, *arguments: str) -> Result:
    return CliRunner().invoke(build_cli(flow_cls), list(arguments), catch_exceptions=False)


@pytest.fixture
def inline_flow(write_flow: FlowFactory, solver: SolverDouble, standin: Standin) -> type:
    return write_flow(INLINE_FLOW, class_name="InlineFlow")


def test_lock_then_check_show_and_image(inline_flow: type, mapping_url: str, tmp_path: Path) -> None:
    locked = invoke(inline_flow, "env", "lock", "--mapping-url", mapping_url)
    assert locked.exit_code == 0, locked.output
    lockfile = tmp_path / "flow" / "conda-lock.yml"
    assert f"locked start, train, end -> {lockfile}" in locked.output

    checked = invoke(inline_flow, "env", "check")
    assert (checked.exit_code, checked.output) == (0, "conda-lock.yml: up to date\n")

    shown = invoke(inline_flow, "env", "show")
    lines = shown.output.splitlines()
    assert lines[0] == "conda-lock.yml (steps: start, train, end)"
    assert any(line.startswith("  linux-64  environment ") for line in lines)
    assert any(line.startswith("  osx-arm64  environment ") for line in lines)
    assert any(line.split() == ["requests", "2.31.0", "pip"] for line in lines)

    image = invoke(inline_flow, "image", "--base", "continuumio/miniconda3:23.10.0-1")
    tag = image.stdout.strip().splitlines()[-1]
    env_id = next(line.split()[-1] for line in lines if line.startswith("  linux-64  environment "))
    assert tag == f"flowkit-env:{env_id}"
    dockerfile = (tmp_path / "flow" / "flowkit-image" / "Dockerfile").read_text()
    assert "FROM continuumio/miniconda3:23.10.0-1" in dockerfile


def test_check_reports_a_stale_lock_and_fails(write_flow: FlowFactory, inline_flow: type, mapping_url: str) -> None:
    assert invoke(inline_flow, "env", "lock", "--mapping-url", mapping_url).exit_code == 0
    changed = write_flow(INLINE_FLOW.replace("1.26.*", "2.0.*"), class_name="InlineFlow")  # same directory
    checked = invoke(changed, "env", "check")
    assert checked.exit_code == 1
    assert "conda-lock.yml: stale: the declaration changed since platform linux-64 was locked" in checked.output


def test_lock_for_other_platforms(inline_flow: type, mapping_url: str, solver: SolverDouble) -> None:
    result = invoke(inline_flow, "env", "lock", "--platform", "linux-aarch64", "--mapping-url", mapping_url)
    assert result.exit_code == 0
    assert [platform for platform, _ in solver.conda_requests] == ["linux-aarch64"]


def test_errors_are_one_line_naming_what_to_do(
    inline_flow: type, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exited:
        run_flow_cli(inline_flow, ["image"])
    assert exited.value.code == 1
    assert "conda-lock.yml does not exist" in capsys.readouterr().err

    monkeypatch.setitem(sys.modules, "conda_lock.conda_lock", None)
    with pytest.raises(SystemExit):
        run_flow_cli(inline_flow, ["env", "lock"])
    assert "pip install 'flowkit[conda]'" in capsys.readouterr().err

    with pytest.raises(SystemExit):
        run_flow_cli(inline_flow, ["env", "show", "--step", "nowhere"])
    assert "InlineFlow: has no step 'nowhere'" in capsys.readouterr().err
