"""Fixtures of the model-layer tests: flows written as source text, so expected line numbers come from the text."""

from __future__ import annotations

import importlib.util
import itertools
import sys
import textwrap
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

FLOW_HEADER = """\
from flowkit.authoring.step import step
from flowkit.specs.decorators import argo, catch, conda, environment, kubernetes, resources, retry, timeout
"""

_module_numbers = itertools.count()

LoadFlow = Callable[..., type]


def line_of(source: str, marker: str) -> int:
    """1-based line number, in the module written by `load_flow`, of the only line of `source` containing `marker`."""
    lines = (FLOW_HEADER + textwrap.dedent(source)).splitlines()
    matches = [number for number, line in enumerate(lines, start=1) if marker in line]
    assert len(matches) == 1, f"marker {marker!r} found {len(matches)} times"
    return matches[0]


@pytest.fixture
def load_flow(tmp_path: Path) -> Iterator[LoadFlow]:
    """Write `source` (after the decorator imports) to a module file, import it, return its class `name`."""
    loaded: list[str] = []

    def load(source: str, name: str = "F") -> type:
        module_name = f"flowkit_model_test_flow_{next(_module_numbers)}"
        path = tmp_path / f"{module_name}.py"
        path.write_text(FLOW_HEADER + textwrap.dedent(source))
        spec = importlib.util.spec_from_file_location(module_name, path)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[module_name] = module
        loaded.append(module_name)
        spec.loader.exec_module(module)
        flow_cls: type = getattr(module, name)
        return flow_cls

    yield load
    for module_name in loaded:
        sys.modules.pop(module_name, None)
