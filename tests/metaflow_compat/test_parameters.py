"""Metaflow's parameter kinds: JSONType, IncludeFile (text and bytes), separator lists and names with '-'."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.runtime.cli_runner import describe, flow_command, run_flow_file

FLOWS = Path(__file__).parent / "flows"


@pytest.fixture
def flow_file(tmp_path: Path) -> Path:
    """The flow beside its default data file, as a project folder has them."""
    for name in ("parameters_flow.py", "movies.csv"):
        shutil.copy(FLOWS / name, tmp_path / name)
    (tmp_path / "blob.bin").write_bytes(bytes(range(256)))
    return tmp_path / "parameters_flow.py"


def test_defaults_are_read_as_metaflow_reads_them(flow_file: Path, datastore_root: Path) -> None:
    result, run = run_flow_file(flow_file, datastore_root=datastore_root)
    assert result.returncode == 0, describe(result)
    from flowkit import __version__

    assert run["start"].task.data.version == __version__
    assert run.data.kept == ["Amelie", "Vertigo"]
    assert run.data.summary == {
        "depth": 3,
        "genres": ["drama", "comedy"],
        "years": [1990, 2000],
        "learning_rate": 0.5,
        "blob": None,
    }


def test_command_line_values_of_every_kind(flow_file: Path, datastore_root: Path) -> None:
    other = flow_file.parent / "other.csv"
    other.write_text("title,genre\nAlien,scifi\nHeat,crime\n")
    result, run = run_flow_file(
        flow_file,
        "--settings",
        '{"depth": 7}',
        "--movies",
        str(other),
        "--blob",
        str(flow_file.parent / "blob.bin"),
        "--genres",
        "scifi",
        "--years",
        "2001:2002:2003",
        "--learning-rate",
        "0.01",
        datastore_root=datastore_root,
    )
    assert result.returncode == 0, describe(result)
    assert run.data.kept == ["Alien"]
    assert run.data.summary == {
        "depth": 7,
        "genres": ["scifi"],
        "years": [2001, 2002, 2003],
        "learning_rate": 0.01,
        "blob": bytes(range(256)),
    }
    assert run.parameters["learning-rate"] == 0.01


def test_bad_values_name_the_parameter(flow_file: Path, datastore_root: Path) -> None:
    result = flow_command(flow_file, "run", "--years", "1990:soon", datastore_root=datastore_root)
    assert result.returncode == 2 and "years" in result.stderr and "'soon'" in result.stderr
    result = flow_command(flow_file, "run", "--movies", "no-such.csv", datastore_root=datastore_root)
    assert result.returncode == 2 and "cannot include the file 'no-such.csv'" in result.stderr


def test_help_lists_every_parameter_and_hides_a_default_on_request(flow_file: Path, datastore_root: Path) -> None:
    result = flow_command(flow_file, "run", "--help", datastore_root=datastore_root)
    assert result.returncode == 0, describe(result)
    help_text = " ".join(result.stdout.split())
    assert "--learning-rate" in help_text and "[default: 0.5]" not in help_text
    assert '--genres STR Genres to keep. [default: ["drama", "comedy"]]' in help_text
