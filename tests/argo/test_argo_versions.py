"""Manifests for each supported Argo version, checked against that version's full CRDs; the version option."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from flowkit.argo_versions import ArgoVersion
from flowkit.cli.main import build_cli
from flowkit.compiler import compile_flow
from flowkit.compiler.render import to_dicts
from flowkit.errors import FlowkitError
from tests.argo.conftest import EXAMPLE_FILES, PACKAGE
from tests.argo.flows import SHAPES, OperatedFlow
from tests.support.argo_schema import ARGO_VERSIONS, manifest_errors, validate_manifest

PROJECT = ["--project-root", str(Path(__file__).parent)]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("3.5", "3.5"),
        ("v3.6.19", "3.6"),
        ("3.7", "3.7"),
        ("4", "4.x"),
        ("4.1", "4.x"),
        ("v4.1.2", "4.x"),
        ("4.x", "4.x"),
    ],
)
def test_supported_versions_are_recognised(text: str, expected: str) -> None:
    assert str(ArgoVersion.parse(text)) == expected


@pytest.mark.parametrize("text", ["3.4", "3", "2.12", "5", "latest", ""])
def test_other_versions_are_refused_with_the_supported_list(text: str) -> None:
    with pytest.raises(FlowkitError, match=r"supported: 3\.5, 3\.6, 3\.7, 4\.x"):
        ArgoVersion.parse(text)


def _flows() -> list[type]:
    from flowkit.cli.main import load_flow_class

    return [*SHAPES, *(load_flow_class(str(path)) for path in EXAMPLE_FILES)]


@pytest.mark.parametrize("argo_version", ARGO_VERSIONS)
def test_every_flow_is_valid_for_each_supported_version(argo_version: str) -> None:
    for flow_cls in _flows():
        for document in to_dicts(compile_flow(flow_cls, package=PACKAGE, argo_version=argo_version)):
            validate_manifest(document, argo_version=argo_version)


def _cron(argo_version: str) -> dict:
    return to_dicts(compile_flow(OperatedFlow, package=PACKAGE, argo_version=argo_version))[1]


def test_the_cron_field_follows_the_version() -> None:
    old, new = _cron("3.5"), _cron("4")
    assert old["spec"]["schedule"] == "15 3 * * 1-5" and "schedules" not in old["spec"]
    assert new["spec"]["schedules"] == ["15 3 * * 1-5"] and "schedule" not in new["spec"]
    assert _cron("3.6")["spec"]["schedules"] == ["15 3 * * 1-5"]
    # Each shape is refused by the other version's full CRDs: on a 3.x cluster with minimal CRDs it would be stored
    # and never fire, which is why the version must be chosen.
    assert any("schedules" in error for error in manifest_errors(new, argo_version="3.5"))
    assert any("schedule" in error for error in manifest_errors(old, argo_version="4.1"))


def test_the_cli_takes_the_version_and_refuses_an_unsupported_one() -> None:
    runner = CliRunner()
    result = runner.invoke(build_cli(OperatedFlow), ["argo-create", *PROJECT, "--only-yaml", "--argo-version", "3.5"])
    assert result.exit_code == 0, result.output
    _, _, cron = yaml.safe_load_all(result.output)
    assert cron["spec"]["schedule"] == "15 3 * * 1-5"

    refused = runner.invoke(build_cli(OperatedFlow), ["argo-create", *PROJECT, "--only-yaml", "--argo-version", "3.4"])
    assert refused.exit_code != 0
    assert "Argo 3.4 is not supported" in str(refused.exception or refused.output)
