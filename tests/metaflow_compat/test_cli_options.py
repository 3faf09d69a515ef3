"""Metaflow's `--with`, `--quiet`, `logs` and `dump` on the command line."""

from __future__ import annotations

from pathlib import Path

from tests.runtime.cli_runner import describe, flow_command, run_flow_file

FLOWS = Path(__file__).parent / "flows"


def test_with_attaches_a_decorator_to_every_step_that_lacks_it(datastore_root: Path) -> None:
    plain, failed_run = run_flow_file(FLOWS / "fragile_flow.py", datastore_root=datastore_root)
    assert plain.returncode == 1 and not failed_run.successful
    result, run = run_flow_file(
        FLOWS / "fragile_flow.py", "--with", "catch:var=failure,print_exception=false", datastore_root=datastore_root
    )
    assert result.returncode == 0, describe(result)
    # fragile got the attached @catch; guarded kept its own (its var is own_error, not failure)
    assert run.data.caught == ["failure:ExceptionWrapper", "own_error:ExceptionWrapper"]


def test_with_before_the_command_and_an_unknown_decorator(datastore_root: Path) -> None:
    run_id_file = datastore_root.parent / "run-id"
    result = flow_command(
        FLOWS / "fragile_flow.py",
        "--with",
        "catch:var=failure",
        "run",
        "--run-id-file",
        str(run_id_file),
        datastore_root=datastore_root,
    )
    assert result.returncode == 0, describe(result)
    unknown = flow_command(FLOWS / "fragile_flow.py", "run", "--with", "gpu_magic", datastore_root=datastore_root)
    assert unknown.returncode == 1 and "--with gpu_magic: no such step decorator" in unknown.stderr


def test_quiet_prints_task_output_but_no_runtime_messages(datastore_root: Path) -> None:
    loud = flow_command(FLOWS / "tagged_flow.py", "run", datastore_root=datastore_root)
    quiet = flow_command(FLOWS / "tagged_flow.py", "--quiet", "run", datastore_root=datastore_root)
    assert loud.returncode == quiet.returncode == 0, describe(quiet)
    assert "started" in loud.stdout and "succeeded" in loud.stdout
    assert quiet.stdout == ""


def test_logs_and_dump_print_a_steps_output_and_artifacts(datastore_root: Path) -> None:
    result, run = run_flow_file(FLOWS / "fragile_flow.py", "--with", "catch:var=failure", datastore_root=datastore_root)
    assert result.returncode == 0, describe(result)
    logs = flow_command(FLOWS / "fragile_flow.py", "logs", f"{run.id}/start", datastore_root=datastore_root)
    assert logs.returncode == 0 and logs.stdout == "starting\n"
    dump = flow_command(
        FLOWS / "fragile_flow.py", "dump", f"{run.id}/join/0", "--include", "caught", datastore_root=datastore_root
    )
    assert dump.returncode == 0, describe(dump)
    assert dump.stdout.splitlines() == [f"FragileFlow/{run.id}/join/0", f"  caught: {run.data.caught!r}"]
    bad = flow_command(FLOWS / "fragile_flow.py", "logs", "only-a-run-id", datastore_root=datastore_root)
    assert bad.returncode == 2 and "RUN_ID/STEP" in bad.stderr


def test_help_describes_the_flow_with_its_own_docstring_or_its_name() -> None:
    from click.testing import CliRunner

    from flowkit import FlowSpec, step
    from flowkit.cli.main import build_cli

    class UndocumentedFlow(FlowSpec):
        @step
        def start(self):
            self.next(self.end)

        @step
        def end(self):
            pass

    class DocumentedFlow(UndocumentedFlow):
        """Trains the model."""

    assert (
        "Commands for the flow UndocumentedFlow." in CliRunner().invoke(build_cli(UndocumentedFlow), ["--help"]).output
    )
    assert "Trains the model." in CliRunner().invoke(build_cli(DocumentedFlow), ["--help"]).output
