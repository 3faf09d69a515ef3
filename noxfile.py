"""Developer sessions: `nox` runs the default ones (tests, tests-3.10, tests-3.13, lint, docs), as CI does; benchmark
and chaos are apart.

Every session needs nothing but python3 and pip on a fresh machine: nox builds each virtualenv and installs flowkit
with the extras the session needs. A new default session is a decorated function plus its name in
`nox.options.sessions`.
"""

from __future__ import annotations

import os
import re
import shutil
import textwrap
from pathlib import Path

import nox

ROOT = Path(__file__).parent
DOC_PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
METAFLOW_REQUIREMENT = "metaflow>=2.19,<2.20"

OTHER_PYTHONS = ("3.10", "3.13")
"""The oldest and newest CPython flowkit supports besides the main session's: the pods run any of them."""

nox.options.sessions = ["tests", *(f"tests-{version}" for version in OTHER_PYTHONS), "lint", "docs"]
nox.options.reuse_existing_virtualenvs = True


@nox.session
def tests(session: nox.Session) -> None:
    """The whole test suite, spread over every CPU (end-to-end cases included)."""
    session.install("-e", ".[test]")
    install_system_packages(session)
    session.run("pytest", "-n", "auto", *session.posargs)


def interpreter(version: str) -> str:
    """CPython ``version`` on this machine: ``pythonX.Y`` on PATH, else pyenv's (whose shims answer only for the
    selected versions)."""
    pyenv_root = Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv"))
    installed = sorted(pyenv_root.glob(f"versions/{version}.*/bin/python{version}"))
    on_path = shutil.which(f"python{version}")
    if installed and (on_path is None or ".pyenv/shims" in on_path):
        return str(installed[-1])
    return on_path or f"python{version}"


def tests_on_another_python(session: nox.Session) -> None:
    """The test suite on the oldest or newest supported CPython; the slow end-to-end cases stay in `tests`."""
    session.install("-e", ".[test]")
    session.run("pytest", "-n", "auto", "-m", "not e2e", *session.posargs)


for _version in OTHER_PYTHONS:
    nox.session(python=interpreter(_version), name=f"tests-{_version}")(tests_on_another_python)


SYSTEM_PACKAGES = {
    "/usr/bin/chromium": "chromium",
    "/usr/bin/chromedriver": "chromium-driver",
    "/usr/sbin/mkfs.btrfs": "btrfs-progs",
}
"""Debian packages some tests run, by the binary each provides: Debian's headless Chromium and its driver for the
web UI's browser tests (never a downloaded browser), btrfs-progs for the storage test that needs a real quota."""


def install_system_packages(session: nox.Session) -> None:
    """Install the missing ones of `SYSTEM_PACKAGES`, only as root (a CI container); elsewhere the tests that need
    one say what to install."""
    missing = [package for binary, package in SYSTEM_PACKAGES.items() if not Path(binary).exists()]
    if not missing or os.geteuid() != 0:
        return
    session.run("apt-get", "update", "-q", external=True)
    session.run("apt-get", "install", "-y", "-q", *missing, external=True)


@nox.session
def lint(session: nox.Session) -> None:
    """ruff (style and common bugs) and mypy (types) over the package."""
    session.install("-e", ".[dev]")
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")
    session.run("mypy")


@nox.session(venv_backend="none")
def docs(session: nox.Session) -> None:
    """Every python block in the docs compiles, and every relative link points at a file that exists."""
    problems = [problem for page in DOC_PAGES for problem in check_page(page)]
    for problem in problems:
        session.log(problem)
    if problems:
        session.error(f"{len(problems)} problem(s) in the docs")
    session.log(f"{len(DOC_PAGES)} pages checked")


CODE_BLOCK = re.compile(r"^```python\n(.*?)^```", re.DOTALL | re.MULTILINE)
LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")


def check_page(page: Path) -> list[str]:
    """The problems of one Markdown page: python blocks that do not compile, relative links to missing files.

    A block may be an excerpt of a class body (a step shown on its own, indented as in the flow), so it is dedented
    before it is compiled.
    """
    text = page.read_text()
    problems = []
    for block in CODE_BLOCK.finditer(text):
        line = text.count("\n", 0, block.start()) + 2
        try:
            compile(textwrap.dedent(block.group(1)), f"{page.name}:{line}", "exec")
        except SyntaxError as error:
            problems.append(f"{page.relative_to(ROOT)}:{line}: python block does not compile: {error}")
    for link in LINK.finditer(text):
        target = link.group(1).split("#", 1)[0]
        if not target or re.match(r"^[a-z]+:", target):
            continue  # an in-page anchor or an external URL
        if not (page.parent / target).exists():
            line = text.count("\n", 0, link.start()) + 1
            problems.append(f"{page.relative_to(ROOT)}:{line}: link to missing file {target}")
    return problems


@nox.session
def chaos(session: nox.Session) -> None:
    """Hundreds of chaos trials (random SIGKILLs of the scheduler and of tasks, then resume), reporting trials,
    resumes, wrong reads and leftover files; `nox -s chaos -- --trials 50 --seed 7` for fewer or a replay."""
    session.install("-e", ".[test]")
    session.run("python", "-m", "tests.chaos.chaos", *(session.posargs or ["--trials", "300"]))


@nox.session
def benchmark(session: nox.Session) -> None:
    """Every benchmark in benchmarks/, with Metaflow installed beside flowkit in this session's own virtualenv."""
    # Installed, not editable: flowkit runs from compiled bytecode, as Metaflow does from its wheel.
    session.install(".")
    # Metaflow is only the point of comparison: if it cannot be installed the comparison script says so loudly.
    # An install step rather than a run step, so `nox -s benchmark --install-only` prepares it too.
    session.install("--quiet", METAFLOW_REQUIREMENT, success_codes=[0, 1])
    for script in sorted((ROOT / "benchmarks").glob("*.py")):
        session.run("python", str(script))
