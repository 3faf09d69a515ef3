"""Settings: one declaration per FLOWKIT_* variable, looked up in layers that say where each value came from."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from flowkit import settings
from flowkit.settings import DATASTORE_ROOT, SETTINGS, EnvironmentLayer, Resolved, Setting

PACKAGE = Path(__file__).resolve().parents[1] / "flowkit"
STANDALONE_SCRIPTS = {"packaging/bootstrap_script.py", "environments/materialize_script.py"}
"""They run before flowkit is importable, so they spell the variables they use themselves."""


def _variables_named_in(path: Path) -> set[str]:
    return set(re.findall(r"FLOWKIT_[A-Z0-9_]+", path.read_text()))


def test_no_module_but_the_settings_module_names_a_flowkit_variable() -> None:
    declared = {setting.env_var for setting in SETTINGS.values()}
    offenders = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        relative = path.relative_to(PACKAGE).as_posix()
        names = _variables_named_in(path)
        if relative == "settings.py" or not names:
            continue
        if relative in STANDALONE_SCRIPTS:
            assert names <= declared, f"{relative} uses undeclared settings {sorted(names - declared)}"
            continue
        offenders[relative] = sorted(names)
    assert offenders == {}


def test_every_setting_is_described_and_named_after_its_variable() -> None:
    for name, setting in SETTINGS.items():
        assert setting.name == name and setting.env_var == "FLOWKIT_" + name.upper()
        assert setting.meaning and (setting.default is not None or setting.default_text or setting.set_by_flowkit)


def test_an_explicit_value_beats_the_environment_which_beats_the_default(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv(DATASTORE_ROOT.env_var, raising=False)
    assert settings.resolve(DATASTORE_ROOT) == Resolved(DATASTORE_ROOT, str(tmp_path / ".flowkit"), "default")
    monkeypatch.setenv(DATASTORE_ROOT.env_var, "/from/env")
    assert settings.resolve(DATASTORE_ROOT) == Resolved(
        DATASTORE_ROOT, "/from/env", "environment ($FLOWKIT_DATASTORE_ROOT)"
    )
    assert settings.resolve(DATASTORE_ROOT, "/given") == Resolved(DATASTORE_ROOT, "/given", "argument")
    monkeypatch.setenv(DATASTORE_ROOT.env_var, "")
    assert settings.resolve(DATASTORE_ROOT).source == "default", "an empty variable counts as unset"


def test_layers_are_consulted_in_order() -> None:
    class Fixed:
        def lookup(self, setting: Setting) -> Resolved | None:
            return Resolved(setting, "/from/file", "profile")

    environment = EnvironmentLayer({"FLOWKIT_DATASTORE_ROOT": "/from/env"})
    assert settings.resolve(DATASTORE_ROOT, layers=[environment, Fixed()]).source.startswith("environment")
    assert settings.resolve(DATASTORE_ROOT, layers=[EnvironmentLayer({}), Fixed()]).value == "/from/file"


def test_the_datastore_root_is_absolute_and_defaults_to_the_nearest_one(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    project, notebooks = tmp_path / "project", tmp_path / "project" / "notebooks"
    notebooks.mkdir(parents=True)
    monkeypatch.chdir(notebooks)
    monkeypatch.delenv(DATASTORE_ROOT.env_var, raising=False)
    assert settings.resolve_datastore_root() == notebooks / ".flowkit"
    (project / ".flowkit").mkdir()
    assert settings.resolve_datastore_root() == project / ".flowkit"
    assert settings.resolve_datastore_root("~/store") == Path.home() / "store"
    monkeypatch.setenv(DATASTORE_ROOT.env_var, "relative")
    assert settings.resolve_datastore_root() == notebooks / "relative"
    assert DATASTORE_ROOT.describe_default() == "$FLOWKIT_DATASTORE_ROOT or the nearest .flowkit"


def test_a_setting_may_fall_back_on_other_variables() -> None:
    assert settings.resolve(settings.USER, layers=[EnvironmentLayer({"USER": "ada"})]) == Resolved(
        settings.USER, "ada", "environment ($USER)"
    )
    both = EnvironmentLayer({"USER": "ada", "FLOWKIT_USER": "grace"})
    assert settings.resolve(settings.USER, layers=[both]).value == "grace"
    assert settings.resolve(settings.USER, layers=[EnvironmentLayer({})]).value == "unknown"


@pytest.mark.parametrize(("text", "on"), [("1", True), ("yes", True), ("0", False), ("off", False), ("", False)])
def test_yes_no_settings(monkeypatch: pytest.MonkeyPatch, text: str, on: bool) -> None:
    monkeypatch.setenv(settings.DEBUG.env_var, text)
    assert settings.enabled(settings.DEBUG) is on
