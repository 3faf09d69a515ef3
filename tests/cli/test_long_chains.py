"""`show` and `check` on a generated 3,000-step chain: the graph walk must not depend on the recursion limit."""

from __future__ import annotations

from pathlib import Path

from tests.model.test_graph_long_chains import chain_source
from tests.runtime.cli_runner import describe, flow_command_in_process, write_flow

STEPS = 3_000


def chain_flow_file(directory: Path, steps: int) -> Path:
    source = chain_source(steps, "class ChainFlow(Flow):")
    return write_flow(
        directory, f"from flowkit import Flow, step\n\n\n{source}\n\nif __name__ == '__main__':\n    ChainFlow()\n"
    )


def test_show_and_check_a_3000_step_chain(tmp_path: Path, datastore_root: Path) -> None:
    flow_file = chain_flow_file(tmp_path, STEPS)

    shown = flow_command_in_process(flow_file, "show", datastore_root=datastore_root)
    assert shown.returncode == 0, describe(shown)
    headers = [line for line in shown.stdout.splitlines() if line and not line.startswith(" ")]
    assert len(headers) == STEPS
    assert headers[0] == "start --linear--> s1"
    assert headers[-2] == f"s{STEPS - 2} --linear--> end" and headers[-1] == "end"

    checked = flow_command_in_process(flow_file, "check", datastore_root=datastore_root)
    assert checked.returncode == 0, describe(checked)
    assert "ChainFlow: OK" in checked.stdout
