"""`env lock` through conda-lock's real API (only its solvers are doubled) and `env check` staleness."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from flowkit.environments.declaration import environment_targets, lock_source
from flowkit.environments.lockfile import lockfile_metadata, read_lockfile
from flowkit.environments.locking import check_lockfile, lock_environment, locked_environment
from flowkit.errors import FlowDefinitionError, FlowkitError
from tests.environments.conftest import INLINE_FLOW, FlowFactory, Standin
from tests.environments.solver_double import SolverDouble

FILE_FLOW = """
@conda(file="environment.yml", platforms=["linux-64", "osx-arm64"])
class FileFlow(Flow):
    @step
    def start(self):
        self.next(self.end)

    @conda(file=None, python="3.11", packages={"pandas": ""})
    @step
    def end(self):
        pass
"""
ENVIRONMENT_YML = """\
name: ignored-by-the-hash
channels: [conda-forge]
dependencies:
  - python=3.10
  - numpy=1.26.*
"""


@pytest.fixture(autouse=True)
def _installer_on_path(standin: Standin) -> None:
    """conda-lock is handed an installer path; the doubled solver never runs it."""


def test_lock_writes_the_lockfile_beside_the_flow_with_declared_platforms(
    write_flow: FlowFactory, solver: SolverDouble, mapping_url: str
) -> None:
    (target,) = environment_targets(write_flow(INLINE_FLOW, class_name="InlineFlow"))
    assert target.steps == ("start", "train", "end")  # materialize= does not split the environment
    path = lock_environment(target, mapping_url=mapping_url)
    assert path == target.flow_dir / "conda-lock.yml" and path.is_file()
    lockfile = read_lockfile(path)
    assert sorted(lockfile.metadata.platforms) == ["linux-64", "osx-arm64"]
    assert lockfile.metadata.sources == []  # not the temporary file conda-lock solved
    requested = dict(solver.conda_requests)
    assert set(requested) == {"linux-64", "osx-arm64"}
    assert requested["linux-64"]["numpy"] == "1.26.*"
    assert requested["linux-64"]["python"] == "3.10.*"
    assert "pydantic" in requested["linux-64"]  # flowkit's runtime dependency is locked too
    assert dict(solver.pip_requests)["linux-64"] == {"requests": "==2.31.0"}
    assert check_lockfile(target).is_fresh


def test_lock_platform_option_overrides_the_declared_platforms(
    write_flow: FlowFactory, solver: SolverDouble, mapping_url: str
) -> None:
    (target,) = environment_targets(write_flow(INLINE_FLOW, class_name="InlineFlow"))
    lock_environment(target, ["linux-aarch64"], mapping_url=mapping_url)
    assert read_lockfile(target.lockfile_path).metadata.platforms == ["linux-aarch64"]
    status = check_lockfile(target)
    assert not status.is_fresh
    assert status.problems == (
        "platform linux-64 is declared but not locked",
        "platform osx-arm64 is declared but not locked",
    )


def test_file_declarations_and_step_environments_get_their_own_lockfiles(
    write_flow: FlowFactory, solver: SolverDouble, mapping_url: str
) -> None:
    flow_cls = write_flow(FILE_FLOW, class_name="FileFlow", files={"environment.yml": ENVIRONMENT_YML})
    main, end = environment_targets(flow_cls)
    assert (main.steps, main.lockfile_path.name) == (("start",), "conda-lock.yml")
    assert (end.steps, end.lockfile_path.name) == (("end",), "conda-lock.end.yml")
    for target in (main, end):
        lock_environment(target, mapping_url=mapping_url)
    assert read_lockfile(main.lockfile_path).metadata.sources == ["environment.yml"]
    assert dict(solver.conda_requests)["linux-64"]["pandas"] == ""  # the step's own environment
    assert sorted(read_lockfile(end.lockfile_path).metadata.platforms) == ["linux-64", "osx-arm64"]  # class default
    assert "name" not in lock_source(main)


def test_check_reports_a_changed_environment_file_but_not_a_reformatted_one(
    write_flow: FlowFactory, solver: SolverDouble, mapping_url: str
) -> None:
    flow_cls = write_flow(FILE_FLOW, class_name="FileFlow", files={"environment.yml": ENVIRONMENT_YML})
    main = environment_targets(flow_cls)[0]
    lock_environment(main, mapping_url=mapping_url)
    environment_file = main.flow_dir / "environment.yml"
    environment_file.write_text("# reformatted\n" + ENVIRONMENT_YML.replace("[conda-forge]", "\n  - conda-forge"))
    assert check_lockfile(main).is_fresh
    environment_file.write_text(ENVIRONMENT_YML.replace("1.26.*", "2.0.*"))
    status = check_lockfile(main)
    assert status.problems == (
        "the declaration changed since platform linux-64 was locked",
        "the declaration changed since platform osx-arm64 was locked",
    )
    with pytest.raises(FlowDefinitionError, match=r"conda-lock\.yml is stale") as caught:
        locked_environment(main, "linux-64")
    assert (caught.value.flow, caught.value.step) == ("FileFlow", "start")


def test_check_needs_flowkits_declaration_hash(write_flow: FlowFactory, solver: SolverDouble, mapping_url: str) -> None:
    (target,) = environment_targets(write_flow(INLINE_FLOW, class_name="InlineFlow"))
    assert check_lockfile(target).problems == ("conda-lock.yml does not exist",)
    lock_environment(target, mapping_url=mapping_url)
    text = target.lockfile_path.read_text()
    stored = lockfile_metadata(read_lockfile(target.lockfile_path))
    osx_hash = f"flowkit-declaration-sha256-osx-arm64: {stored['flowkit-declaration-sha256-osx-arm64']}"
    assert osx_hash in text
    target.lockfile_path.write_text(text.replace(osx_hash, "flowkit-declaration-sha256-osx-arm64: " + "f" * 64))
    assert check_lockfile(target).problems == ("the declaration changed since platform osx-arm64 was locked",)
    target.lockfile_path.write_text(text.replace("flowkit-declaration-sha256-linux-64", "someone-else"))
    assert check_lockfile(target).problems == ("platform linux-64 was not locked by flowkit (no declaration hash)",)


def test_a_missing_environment_file_names_the_field(write_flow: FlowFactory) -> None:
    flow_cls = write_flow(FILE_FLOW, class_name="FileFlow")
    with pytest.raises(FlowDefinitionError) as caught:
        lock_source(environment_targets(flow_cls)[0])
    assert (caught.value.step, caught.value.field) == ("start", "file")
    assert "does not exist" in str(caught.value)


def test_lock_without_an_installer_says_what_is_missing(
    write_flow: FlowFactory, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    (target,) = environment_targets(write_flow(INLINE_FLOW, class_name="InlineFlow"))
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    with pytest.raises(FlowkitError, match="needs one of micromamba, mamba, conda on PATH"):
        lock_environment(target)


def test_without_conda_lock_every_command_says_how_to_install_it(
    write_flow: FlowFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    (target,) = environment_targets(write_flow(INLINE_FLOW, class_name="InlineFlow"))
    for module in ("conda_lock", "conda_lock.conda_lock", "conda_lock.lockfile", "conda_lock.lookup"):
        monkeypatch.setitem(sys.modules, module, None)
    hint = r"pip install 'flowkit\[conda\]'"
    with pytest.raises(FlowkitError, match=hint):
        lock_environment(target)
    target.lockfile_path.write_text("version: 1\n")
    with pytest.raises(FlowkitError, match=hint):
        check_lockfile(target)


def test_a_relock_is_seen_by_the_next_render(write_flow: FlowFactory, solver: SolverDouble, mapping_url: str) -> None:
    (target,) = environment_targets(write_flow(INLINE_FLOW, class_name="InlineFlow"))
    lock_environment(target, mapping_url=mapping_url)
    before = locked_environment(target, "linux-64")
    assert locked_environment(target, "linux-64") == before
    solver.versions["numpy"] = "1.26.5"
    lock_environment(target, mapping_url=mapping_url)
    after = locked_environment(target, "linux-64")
    assert after.env_id != before.env_id
    assert "numpy-1.26.5" in after.conda_explicit
