"""CI runs exactly the command README.md gives for the tests, and that command runs every default nox session."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _indented_commands(markdown: str) -> list[str]:
    """The shell commands of a Markdown page's indented code blocks (four spaces), in order."""
    return [line[4:] for line in markdown.splitlines() if line.startswith("    ") and not line.startswith("     ")]


def test_ci_runs_the_readme_test_command() -> None:
    readme_commands = _indented_commands((ROOT / "README.md").read_text(encoding="utf-8"))
    assert len(readme_commands) >= 2, "README.md gives an install command, then the test command"
    ci_script = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert ci_script.rstrip().splitlines()[-1] == readme_commands[1]


def test_the_test_command_runs_the_default_sessions_of_the_noxfile() -> None:
    """No `-s`: nox then runs nox.options.sessions, which must hold the tests, lint and docs sessions."""
    command = _indented_commands((ROOT / "README.md").read_text(encoding="utf-8"))[1]
    assert command.endswith("python3 -m nox"), command
    noxfile = (ROOT / "noxfile.py").read_text(encoding="utf-8")
    match = re.search(r"^nox\.options\.sessions = \[(.*?)\]", noxfile, re.MULTILINE | re.DOTALL)
    assert match, "noxfile.py sets nox.options.sessions"
    assert {"tests", "lint", "docs"} <= set(re.findall(r'"([^"]+)"', match.group(1)))
