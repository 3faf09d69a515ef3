"""The import rules of docs/architecture.md.

Two kinds of check: a static one over every import statement of a layer (lazy imports inside functions included),
and a behavioural one in fresh interpreters, proving that a local run never loads the heavy optional libraries.
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
PACKAGE = REPO_ROOT / "flowkit"
HEAVY = ["hera", "kubernetes", "conda_lock", "rich", "jsonschema"]

# (layer, modules it must never import, even lazily)
RULES = [
    ("flowkit.task", ["flowkit.runtime", "flowkit.compiler"]),
    ("flowkit.compiler", ["flowkit.runtime"]),
    ("flowkit.runtime", ["hera"]),
]


def imported_modules(path: Path) -> set[str]:
    """Every module an `import` or `from ... import` in the file names, wherever the statement is."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def violates(module: str, forbidden: str) -> bool:
    return module == forbidden or module.startswith(forbidden + ".")


@pytest.mark.parametrize(("layer", "forbidden"), RULES)
def test_layer_never_imports_what_the_contract_forbids(layer: str, forbidden: list[str]) -> None:
    layer_dir = PACKAGE / layer.split(".", 1)[1]
    files = sorted(layer_dir.rglob("*.py"))
    assert files, f"{layer} has no modules"
    offences = [
        f"{path.relative_to(REPO_ROOT)} imports {module}"
        for path in files
        for module in sorted(imported_modules(path))
        if any(violates(module, name) for name in forbidden)
    ]
    assert offences == []


STDLIB_ONLY = {
    # A pod reads its task's identity and command line before anything else of flowkit is imported.
    "flowkit/identity.py": set(),
    "flowkit/invocation.py": {"flowkit.identity", "flowkit.settings"},
    "flowkit/settings.py": set(),
}


@pytest.mark.parametrize(("module", "allowed"), sorted(STDLIB_ONLY.items()))
def test_task_identity_invocation_and_settings_need_only_the_standard_library(module: str, allowed: set[str]) -> None:
    imported = imported_modules(REPO_ROOT / module)
    outside = sorted(name for name in imported if name.split(".")[0] not in sys.stdlib_module_names)
    assert set(outside) <= allowed, outside


def loaded_after(code: str, cwd: Path) -> list[str]:
    """Run `code` in a fresh interpreter and list which heavy libraries it loaded."""
    probe = f"""
import json, sys
{code}
print(json.dumps(sorted(name for name in {HEAVY!r} if name in sys.modules)))
"""
    result = subprocess.run([sys.executable, "-c", probe], cwd=cwd, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_import_flowkit_loads_no_heavy_library(tmp_path: Path) -> None:
    assert loaded_after("import flowkit\nfrom flowkit import Flow, FlowSpec, Parameter, current, step", tmp_path) == []


def test_a_local_run_from_the_cli_loads_no_heavy_library(tmp_path: Path) -> None:
    code = f"""
import runpy
sys.argv = ["hello.py", "run", "--datastore-root", {str(tmp_path / "store")!r}]
try:
    runpy.run_path({str(REPO_ROOT / "examples" / "hello.py")!r}, run_name="__main__")
except SystemExit as done:
    assert done.code == 0, done.code
"""
    assert loaded_after(code, tmp_path) == []


def test_building_the_cli_with_every_command_module_loads_no_heavy_library(tmp_path: Path) -> None:
    code = f"""
sys.path.insert(0, {str(REPO_ROOT / "examples")!r})
from hello import HelloFlow
from flowkit.cli.main import build_cli
assert {{"run", "show", "argo-create", "package"}} <= set(build_cli(HelloFlow).commands)
"""
    assert loaded_after(code, tmp_path) == []


def test_the_task_executor_loads_neither_scheduler(tmp_path: Path) -> None:
    code = """
import flowkit.task.executor, flowkit.task.cli
leaked = [name for name in sys.modules if name.startswith(("flowkit.runtime", "flowkit.compiler"))]
assert leaked == [], leaked
"""
    assert loaded_after(code, tmp_path) == []
