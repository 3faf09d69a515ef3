"""Fixtures for the harness's own tests: a PVC directory and an emulator call that also schema-checks."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.harness.manifests import DATA_CLAIM, DATA_MOUNT
from tests.support.argo_emulator import EmulatedRun, run_workflow_template
from tests.support.argo_schema import validate_manifest

Emulate = Callable[..., EmulatedRun]


@pytest.fixture
def pvc_dir(tmp_path: Path) -> Path:
    """The local directory standing for the ``harness-data`` claim."""
    directory = tmp_path / "pvc"
    directory.mkdir()
    return directory


@pytest.fixture
def emulate(pvc_dir: Path, tmp_path: Path) -> Emulate:
    """Validate a hand-written manifest (so it is one a cluster accepts), then run it in the emulator."""
    assert not Path(DATA_MOUNT).exists(), f"{DATA_MOUNT} must not exist on the host for these tests"

    def run(manifest: dict[str, Any], **options: Any) -> EmulatedRun:
        validate_manifest(manifest)
        options.setdefault("timeout", 60)
        result = run_workflow_template(manifest, pvc_dirs={DATA_CLAIM: pvc_dir}, workdir=tmp_path / "work", **options)
        assert not Path(DATA_MOUNT).exists(), "the emulator created the mount path on the host"
        return result

    (tmp_path / "work").mkdir()
    return run
