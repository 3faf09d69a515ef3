"""Classifying imported modules: import roots inside the project, and what must travel by value."""

from __future__ import annotations

import importlib.util
import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from flowkit.packaging import modules
from flowkit.packaging.modules import plan_modules


@pytest.fixture
def scratch_modules() -> Iterator[list[str]]:
    """Names of modules a test imports; removed from sys.modules afterwards."""
    names: list[str] = []
    yield names
    for name in names:
        sys.modules.pop(name, None)


def _load(name: str, path: Path, scratch: list[str]) -> None:
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    scratch.append(name)
    spec.loader.exec_module(module)


def _write(path: Path, text: str = "") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def test_project_packages_give_import_roots(tmp_path: Path, scratch_modules: list[str]) -> None:
    root = tmp_path / "repo"
    _load("shop", _write(root / "src" / "shop" / "__init__.py"), scratch_modules)
    _load("shop.pricing", _write(root / "src" / "shop" / "pricing.py"), scratch_modules)
    _load("tools", _write(root / "tools.py"), scratch_modules)
    plan = plan_modules(root, root / "flows" / "flow.py")
    assert plan.import_roots == ["flows", "src", ""]
    assert not {"shop", "shop.pricing", "tools"} & set(plan.by_value)


def test_a_project_file_loaded_under_another_name_goes_by_value(tmp_path: Path, scratch_modules: list[str]) -> None:
    root = tmp_path / "repo"
    _load("renamed_module", _write(root / "actual_name.py"), scratch_modules)
    assert "renamed_module" in plan_modules(root, None).by_value


def test_machine_local_packages_go_by_value_and_installed_ones_do_not(
    tmp_path: Path, scratch_modules: list[str]
) -> None:
    sibling = tmp_path / "sibling-checkout"
    _load("siblingpkg", _write(sibling / "siblingpkg" / "__init__.py"), scratch_modules)
    _load("siblingpkg.util", _write(sibling / "siblingpkg" / "util.py"), scratch_modules)
    plan = plan_modules(tmp_path / "repo", None)
    assert "siblingpkg" in plan.by_value and "siblingpkg.util" not in plan.by_value  # the package covers it
    assert not {"json", "pytest", "pydantic", "flowkit", "cloudpickle"} & set(plan.by_value)


def test_an_environment_inside_the_project_is_not_an_import_root(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, scratch_modules: list[str]
) -> None:
    """A project's own .venv holds installed packages: they come from the image, not from the package."""
    root = tmp_path / "repo"
    site_packages = root / ".venv" / "lib" / "site-packages"
    monkeypatch.setattr(modules, "_installed_prefixes", lambda: (str(site_packages.resolve()) + os.sep,))
    _load("vendored", _write(site_packages / "vendored" / "__init__.py"), scratch_modules)
    plan = plan_modules(root, root / "flow.py")
    assert plan.import_roots == [""]
    assert "vendored" not in plan.by_value


def test_environments_inside_the_project_hold_installed_modules_even_when_not_the_running_one(
    tmp_path: Path, scratch_modules: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A notebook kernel may import from a project's .venv (or a conda env) that is not its own interpreter's."""
    for name in [name for name in sys.modules if name.split(".")[0] == "mylib"]:  # another test's project
        monkeypatch.delitem(sys.modules, name)
    root = tmp_path / "repo"
    _write(root / ".venv" / "pyvenv.cfg")
    venv_packages = root / ".venv" / "lib" / "python3.11" / "site-packages"
    _load("fakereq", _write(venv_packages / "fakereq" / "__init__.py"), scratch_modules)
    _load("fakereq.packages.chardet", _write(venv_packages / "fakecharset" / "__init__.py"), scratch_modules)
    _write(root / "envs" / "ml" / "conda-meta" / "history")
    _load("condamod", _write(root / "envs" / "ml" / "lib" / "condamod.py"), scratch_modules)
    _load("vendored", _write(root / "third_party" / "dist-packages" / "vendored.py"), scratch_modules)
    _load("mylib", _write(root / "mylib" / "__init__.py"), scratch_modules)
    plan = plan_modules(root, root / "flow.py")
    assert plan.import_roots == [""]
    assert not {"fakereq", "fakereq.packages.chardet", "condamod", "vendored", "mylib"} & set(plan.by_value)
