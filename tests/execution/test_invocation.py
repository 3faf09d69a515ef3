"""The task command line: what a scheduler builds is exactly what the task entry point reads back."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from flowkit.identity import TaskRef
from flowkit.invocation import TaskInvocation, _parse_plain, argument_parser


def test_every_field_survives_the_round_trip_through_the_command_line() -> None:
    invocation = TaskInvocation(
        run_id="r1",
        step="train",
        index_path=(3, 1),
        attempt=2,
        datastore_root="/data/store",
        flow="pkg.flows:TrainFlow",
        params={"alpha": "0.5", "text": '"a=b --step x"', "none": "null"},
        split_output="/tmp/splits.json",
        branch_output="/tmp/branch.txt",
        workflow_status="Failed",
        max_num_splits=10_000,
        tee_logs=True,
        lifeline_fd=7,
    )
    unset = [name for name, value in invocation._asdict().items() if value in (None, {}, ())]
    assert unset == [], "the example must set every field to prove each one crosses the command line"
    assert TaskInvocation.from_argv(invocation.to_argv()) == invocation


def test_options_at_their_defaults_are_left_off() -> None:
    invocation = TaskInvocation(run_id="r1", step="start")
    assert invocation.to_argv() == ["--run-id", "r1", "--step", "start"]
    assert TaskInvocation.from_argv(invocation.to_argv()) == invocation


def test_placeholders_pass_through_verbatim() -> None:
    argv = TaskInvocation(
        run_id="{{workflow.name}}",
        step="{{inputs.parameters.step}}",
        index_path="{{inputs.parameters.index-path}}",
        attempt="{{retries}}",
        params={"alpha": "{{workflow.parameters.alpha}}"},
    ).to_argv()
    assert argv == [
        "--run-id", "{{workflow.name}}",
        "--step", "{{inputs.parameters.step}}",
        "--index-path", "{{inputs.parameters.index-path}}",
        "--attempt", "{{retries}}",
        "--param", "alpha={{workflow.parameters.alpha}}",
    ]  # fmt: skip
    substituted = [word.replace("{{inputs.parameters.index-path}}", "4.0").replace("{{retries}}", "1") for word in argv]
    parsed = TaskInvocation.from_argv(substituted)
    assert (parsed.index_path, parsed.attempt) == ((4, 0), 1)


def test_a_task_ref_and_an_attempt_make_an_invocation_and_back() -> None:
    task = TaskRef("TrainFlow", "r1", "train", (2, 5))
    invocation = TaskInvocation.for_task(task, 3, tee_logs=True)
    parsed = TaskInvocation.from_argv(invocation.to_argv())
    assert parsed.task_ref("TrainFlow") == task and parsed.attempt_number == 3
    assert invocation.command("/env/bin/python")[:3] == ["/env/bin/python", "-m", "flowkit.task"]


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--index-path", "1.x"], "index path '1.x' must be dot-separated integers"),
        (["--attempt", "two"], "--attempt must be a whole number, got 'two'"),
        (["--param", "novalue"], "--param takes NAME=JSON, got 'novalue'"),
    ],
)
def test_badly_formed_values_are_named(argv: list[str], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        TaskInvocation.from_argv(["--run-id", "r1", "--step", "start", *argv])


def test_the_help_lists_every_option() -> None:
    text = argument_parser().format_help()
    for field in TaskInvocation._fields:
        flag = "--param" if field == "params" else "--" + field.replace("_", "-")
        assert flag in text, f"TaskInvocation.{field} has no command-line option"


PLAIN_COMMAND_LINES = [
    ["--run-id", "r1", "--step", "start"],
    ["--step", "s", "--run-id", "r", "--tee-logs", "--param", "a=1", "--param", "b=", "--index-path", ""],
    ["--run-id", "r", "--step", "s", "--attempt", "1", "--attempt", "2", "--tee-logs", "--tee-logs"],
    ["--run-id", "{{workflow.name}}", "--step", "s", "--datastore-root", "/d", "--max-num-splits", "7"],
]


@pytest.mark.parametrize("argv", PLAIN_COMMAND_LINES)
def test_the_plain_parser_reads_a_command_line_exactly_as_argparse_does(argv: list[str]) -> None:
    assert _parse_plain(argv) == vars(argument_parser().parse_args(argv))


@pytest.mark.parametrize(
    "argv",
    [
        ["--help"],
        ["--run-id", "r1"],  # --step missing
        ["--run-id", "r1", "--step"],  # no value
        ["--run-id", "r1", "--step", "s", "--attempt", "-1"],  # a value argparse reads as a flag
        ["--run-id=r1", "--step", "s"],
        ["--run", "r1", "--step", "s"],  # an abbreviation
        ["--run-id", "r1", "--step", "s", "extra"],
    ],
)
def test_anything_but_a_plain_command_line_is_left_to_argparse(argv: list[str]) -> None:
    assert _parse_plain(argv) is None


def test_a_pod_reads_its_command_line_without_importing_argparse() -> None:
    """argparse (with gettext, locale and shutil) is a few milliseconds of every pod's start-up."""
    root = str(Path(__file__).resolve().parents[2])
    probe = (
        f"import sys; sys.path.insert(0, {root!r}); from flowkit.invocation import TaskInvocation; "
        "TaskInvocation.from_argv(['--run-id', 'r1', '--step', 'start', '--tee-logs']); "
        "print('argparse' in sys.modules)"
    )
    result = subprocess.run([sys.executable, "-I", "-c", probe], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "False"
