"""A plain `run` or `resume` is parsed without click, and gives what click gives; anything else still goes to
click."""

from __future__ import annotations

from pathlib import Path

import pytest

from flowkit import Flow, Parameter, plain_data, step
from flowkit.cli.quickrun import RunArguments, parse_resume_arguments, parse_run_arguments
from flowkit.runtime.resume import ResumeFrom
from tests.runtime.cli_runner import describe, flow_command, write_flow


class RateFlow(Flow):
    rate = Parameter("rate", default=0.5, type=float)
    label = Parameter("label", required=True, type=str)

    @step
    def start(self):
        self.next(self.end)

    @step
    def end(self):
        pass


def test_a_plain_run_is_parsed_as_click_would_pass_it(tmp_path: Path) -> None:
    arguments = ["run", "--label", "x", "--rate", "2", "--max-workers", "3", "--datastore-root", str(tmp_path)]
    arguments += ["--run-id-file", str(tmp_path / "id"), "--environment", "conda"]
    assert parse_run_arguments(RateFlow, arguments) == RunArguments(
        parameters={"label": "x", "rate": 2.0},
        max_workers=3,
        datastore_root=tmp_path,
        run_id_file=tmp_path / "id",
        environment="conda",
    )


@pytest.mark.parametrize(
    "arguments",
    [
        ["run", "--label", "x", "--help"],  # help is click's
        ["run", "--label=x"],  # a spelling click knows
        ["run", "--label", "x", "--label", "y"],  # repeated
        ["run", "--label", "x", "--nope", "1"],  # unknown option
        ["run", "--label", "x", "--rate", "fast"],  # a value the parameter refuses: click words the error
        ["run", "--label", "x", "--max-workers", "0"],
        ["run", "--label", "x", "--environment", "docker"],
        ["run", "--rate", "2"],  # a required parameter is missing
        ["run", "--label", "-x"],  # looks like an option
        ["show"],
        [],
    ],
)
def test_anything_but_a_plain_run_is_left_to_click(arguments: list[str]) -> None:
    assert parse_run_arguments(RateFlow, arguments) is None


def test_a_datastore_root_that_is_a_file_is_left_to_click(tmp_path: Path) -> None:
    a_file = tmp_path / "file"
    a_file.write_text("")
    assert parse_run_arguments(RateFlow, ["run", "--label", "x", "--datastore-root", str(a_file)]) is None
    assert parse_run_arguments(RateFlow, ["run", "--label", "x", "--run-id-file", str(tmp_path)]) is None


def test_a_plain_resume_is_parsed_as_click_would_pass_it(tmp_path: Path) -> None:
    arguments = ["resume", "end", "--origin-run-id", "r1", "--max-workers", "3", "--datastore-root", str(tmp_path)]
    assert parse_resume_arguments(arguments) == (
        RunArguments(max_workers=3, datastore_root=tmp_path),
        ResumeFrom(origin_run_id="r1", step="end"),
    )
    assert parse_resume_arguments(["resume"]) == (RunArguments(), ResumeFrom())


@pytest.mark.parametrize(
    "arguments",
    [
        ["resume", "--help"],
        ["resume", "--origin-run-id=r1"],  # a spelling click knows
        ["resume", "--origin-run-id", "r1", "--origin-run-id", "r2"],  # repeated
        ["resume", "--label", "x"],  # a flow parameter: resume takes none, click says so
        ["resume", "--max-workers", "0"],  # a value click refuses
        ["resume", "--max-workers", "2", "end"],  # STEP after an option: click's interspersed arguments
        ["resume", "start", "end"],  # two steps: click's usage error
        ["resume", "--tag", "t"],  # repeatable options are click's
        ["run"],
        [],
    ],
)
def test_anything_but_a_plain_resume_is_left_to_click(arguments: list[str]) -> None:
    assert parse_resume_arguments(arguments) is None


PROBE_FLOW = """
import atexit
import gc
import sys

from flowkit import Flow, Parameter, plain_data, step


class ProbeFlow(Flow):
    word = Parameter("word", default="hi")

    @step
    def start(self):
        self.next(self.end)

    @step
    def end(self):
        print("word", self.word)


atexit.register(lambda: print("click imported:", "click" in sys.modules))
# Loaded only for what a plain run or resume never does: a step in its own interpreter (its command line, a process).
# On Python 3.10 `subprocess` comes with cloudpickle anyway (its `platform` module imports it), so only the task
# command line is checked there.
SPAWNING = ("subprocess", "flowkit.invocation") if sys.version_info >= (3, 11) else ("flowkit.invocation",)
atexit.register(lambda: print("spawning loaded:", any(module in sys.modules for module in SPAWNING)))
atexit.register(lambda: print("frozen at exit:", gc.get_freeze_count() > 0))  # runs after the CLI's own (LIFO)

if __name__ == "__main__":
    ProbeFlow()
"""


def test_a_plain_run_never_imports_click_and_reports_like_before(tmp_path: Path, datastore_root: Path) -> None:
    flow_file = write_flow(tmp_path, PROBE_FLOW)
    result = flow_command(flow_file, "run", "--word", "yo", datastore_root=datastore_root)
    assert result.returncode == 0, describe(result)
    assert "click imported: False" in result.stdout and "spawning loaded: False" in result.stdout
    assert "frozen at exit: True" in result.stdout, "exiting skips a collection over every module's objects"
    assert "word yo" in result.stdout
    assert "Run ProbeFlow/" in result.stdout and "succeeded." in result.stdout

    refused = flow_command(flow_file, "run", "--max-workers", "0", datastore_root=datastore_root)
    assert refused.returncode == 2 and "--max-workers" in refused.stderr  # click's usage error, as before
    assert "click imported: True" in refused.stdout


def test_a_plain_resume_never_imports_click_and_reports_like_before(tmp_path: Path, datastore_root: Path) -> None:
    flow_file = write_flow(tmp_path, PROBE_FLOW)
    origin = flow_command(flow_file, "run", "--word", "yo", "--run-id-file", "origin", datastore_root=datastore_root)
    assert origin.returncode == 0, describe(origin)
    origin_id = (tmp_path / "origin").read_text().strip()

    resumed = flow_command(flow_file, "resume", "end", "--origin-run-id", origin_id, datastore_root=datastore_root)
    assert resumed.returncode == 0, describe(resumed)
    assert "click imported: False" in resumed.stdout and "spawning loaded: False" in resumed.stdout
    assert "word yo" in resumed.stdout  # the origin's parameter value, in the re-run end step
    assert f"resumes {origin_id}" in resumed.stdout and "start: 1 reused" in resumed.stdout
    assert "Run ProbeFlow/" in resumed.stdout and "succeeded." in resumed.stdout

    missing = flow_command(flow_file, "resume", "--origin-run-id", "no-such-run", datastore_root=datastore_root)
    assert missing.returncode == 1 and "run 'no-such-run' not found" in missing.stderr  # one line, as before
    assert "Traceback" not in missing.stderr

    refused = flow_command(flow_file, "resume", "--word", "hi", datastore_root=datastore_root)
    assert refused.returncode == 2 and "--word" in refused.stderr  # click's usage error: resume takes no parameters
    assert "click imported: True" in refused.stdout


def test_the_fast_path_and_click_read_one_option_table_alike(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from click.testing import CliRunner

    import flowkit.cli.local
    from flowkit.cli.main import build_cli

    arguments = [
        "run",
        "--label",
        "x",
        "--max-workers",
        "2",
        "--max-num-splits",
        "7",
        "--datastore-root",
        str(tmp_path),
    ]
    arguments += ["--run-id-file", str(tmp_path / "id"), "--environment", "conda"]
    seen: list[RunArguments] = []
    monkeypatch.setattr(flowkit.cli.local, "run_locally", lambda flow_cls, parsed, *rest: seen.append(parsed))
    result = CliRunner().invoke(build_cli(RateFlow), arguments, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert seen == [parse_run_arguments(RateFlow, arguments)]
    expected = {"max_workers": 2, "max_num_splits": 7, "datastore_root": tmp_path, "environment": "conda"}
    assert {name: getattr(seen[0], name) for name in expected} == expected


def test_the_fast_path_and_click_read_a_resume_alike(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from click.testing import CliRunner

    import flowkit.cli.local
    from flowkit.cli.main import build_cli

    arguments = ["resume", "end", "--origin-run-id", "r1", "--max-num-splits", "7", "--datastore-root", str(tmp_path)]
    seen: list[tuple[RunArguments, ResumeFrom]] = []
    monkeypatch.setattr(flowkit.cli.local, "run_locally", lambda flow_cls, *parsed: seen.append(parsed))
    result = CliRunner().invoke(build_cli(RateFlow), arguments, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert seen == [parse_resume_arguments(arguments)]
    assert seen[0][1] == ResumeFrom(origin_run_id="r1", step="end") and seen[0][0].max_num_splits == 7


def test_every_option_of_the_tables_fills_its_field_and_is_in_the_help() -> None:
    from click.testing import CliRunner

    from flowkit.cli.main import build_cli
    from flowkit.cli.quickrun import RESUME_OPTIONS, RUN_OPTIONS

    fields = {"run": set(plain_data.fields(RunArguments)), "resume": set(ResumeFrom.__dataclass_fields__)}
    for command, options in (("run", RUN_OPTIONS), ("resume", RUN_OPTIONS), ("resume", RESUME_OPTIONS)):
        text = CliRunner().invoke(build_cli(RateFlow), [command, "--help"]).output
        table = "resume" if options is RESUME_OPTIONS else "run"
        for option in options:
            assert option.name in fields[table] and option.flag in text, (command, option.flag)
