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


LAYERS: list[set[str]] = [
    # Lowest first. A module may import from its own layer and the layers below it, never from one above.
    {"errors", "identity", "invocation", "settings", "argo_versions", "metaflow_version", "pod_files", "plain_data"},
    {"authoring"},  # what the user writes
    {"graph", "specs", "datastore"},  # the model (plain data read from the flow class) and the storage
    {"environments", "cards", "packaging"},
    {"task"},  # runs one task
    {"ui"},
    {"client"},
    {"runtime", "compiler"},  # the two schedulers: the local runtime, the Argo compiler (graph + specs -> Hera)
    {"deploy"},  # packaging, compiling and applying, against a cluster
    {"cli"},
]
RANK = {name: rank for rank, names in enumerate(LAYERS) for name in names}
FACADE_LAYER = "authoring"
"""Its classes are the user's entry points (`Flow.run`, `Flow.argo_create`, `current.card`): they may reach any
engine, but only lazily, inside the function that needs it, so defining a flow loads none of them."""
STANDALONE_SCRIPTS = {"packaging/bootstrap_script.py", "environments/materialize_script.py"}
"""Run with ``python -c`` before flowkit is importable, outside the package's layering."""


def layer_of(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if parts[0] == "flowkit" and len(parts) > 1 else None


def runtime_imports(path: Path) -> list[tuple[str, bool]]:
    """``(module, lazy)`` for every import the file executes (not those under ``if TYPE_CHECKING:``); lazy means
    inside a function body."""
    tree = ast.parse(path.read_text(), str(path))
    found: list[tuple[str, bool]] = []

    def visit(node: ast.AST, lazy: bool) -> None:
        if isinstance(node, ast.If) and isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING":
            return
        if isinstance(node, ast.Import):
            found.extend((alias.name, lazy) for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module == "flowkit":  # from flowkit import settings
            found.extend((f"flowkit.{alias.name}", lazy) for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append((node.module, lazy))
        inner = lazy or isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))
        for child in ast.iter_child_nodes(node):
            visit(child, inner)

    visit(tree, False)
    return found


def test_every_layer_imports_only_downward() -> None:
    packages = {path.name for path in PACKAGE.iterdir() if path.is_dir() and (path / "__init__.py").exists()}
    modules = {path.stem for path in PACKAGE.glob("*.py") if path.name != "__init__.py"}
    assert packages | modules == set(RANK), "every package and top-level module belongs to one layer"
    offences = []
    for path in sorted(PACKAGE.rglob("*.py")):
        relative = path.relative_to(PACKAGE)
        if (len(relative.parts) == 1 and relative.name == "__init__.py") or relative.as_posix() in STANDALONE_SCRIPTS:
            continue
        source = relative.parts[0].removesuffix(".py")
        for module, lazy in runtime_imports(path):
            target = layer_of(module)
            if target is None or target not in RANK or RANK[target] <= RANK[source]:
                continue
            if source == FACADE_LAYER and lazy:
                continue
            offences.append(f"{relative} imports {module} ({'lazily' if lazy else 'at module level'})")
    assert offences == []


def test_no_two_packages_import_each_other() -> None:
    """Within a layer too: the only way back is an authoring facade's lazy import."""
    edges: dict[str, set[str]] = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        relative = path.relative_to(PACKAGE)
        if len(relative.parts) == 1 or relative.as_posix() in STANDALONE_SCRIPTS:
            continue
        source = relative.parts[0]
        for module, lazy in runtime_imports(path):
            target = layer_of(module)
            if target is not None and target != source and not (source == FACADE_LAYER and lazy):
                edges.setdefault(source, set()).add(target)
    cycles = sorted(f"{a} <-> {b}" for a in edges for b in edges[a] if a < b and a in edges.get(b, set()))
    assert cycles == []


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


def test_the_pods_task_command_imports_without_pydantic(tmp_path: Path) -> None:
    """A pod runs `python -m flowkit.task` on a bare interpreter: nothing it imports may need pydantic."""
    code = """
import flowkit.task.cli, flowkit.runtime.launch
assert "pydantic" not in sys.modules, "a bare interpreter has no pydantic"
"""
    assert loaded_after(code, tmp_path) == []
