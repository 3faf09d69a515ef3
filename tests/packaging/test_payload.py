"""How the flow class travels: a flow in a project file by reference (imported in the pod, any Python), a class
without one, or one using machine-local modules, pickled by value."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path

import cloudpickle

from flowkit.packaging import build_payload

ImportFlow = Callable[..., type]

# Loads a payload in a fresh interpreter whose sys.path holds only the given directories (and the venv), then calls
# the start step's helper to prove the code behind the class came along.
LOADER = """
import pickle, sys
sys.path[:0] = sys.argv[2:]
cls = pickle.loads(open(sys.argv[1], "rb").read())
print(cls.__name__, sorted(name for name in vars(cls) if name.startswith("__flowkit")))
"""


def _load_elsewhere(
    payload: bytes, tmp_path: Path, *path_entries: Path, probe: bool = False, probe_code: str | None = None
) -> subprocess.CompletedProcess[str]:
    """Load ``payload`` in a fresh interpreter with ``path_entries`` on sys.path; ``probe`` also prints the class's
    ``probe()`` first, ``probe_code`` the value of that expression."""
    payload_file = tmp_path / "payload.pkl"
    payload_file.write_bytes(payload)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir(exist_ok=True)
    loader = LOADER.replace("print(cls.__name__", "print(cls.probe(), cls.__name__") if probe else LOADER
    if probe_code is not None:
        loader = LOADER.replace("print(cls.__name__", f"print({probe_code}, cls.__name__")
    return subprocess.run(
        [sys.executable, "-c", loader, str(payload_file), *map(str, path_entries)],
        cwd=elsewhere,
        capture_output=True,
        text=True,
        check=False,
    )


def _probe_flow_script(name: str, prelude: str, probe: str, epilogue: str) -> str:
    """A script: ``prelude``, a two-step flow ``name`` whose static ``probe()`` returns ``probe``, then ``epilogue``
    (which pickles the class into ``sys.argv[1]``)."""
    flow = f"""
class {name}(Flow):
    @step
    def start(self):
        self.next(self.end)

    @step
    def end(self):
        pass

    @staticmethod
    def probe():
        return {probe}
"""
    return "\n".join([textwrap.dedent(prelude), flow, textwrap.dedent(epilogue)])


def test_a_flow_in_a_project_module_travels_by_reference(project: Path, import_flow: ImportFlow) -> None:
    payload = build_payload(import_flow(project), project)
    assert (payload.reference, payload.data, payload.by_value) == ("packflow:PackFlow", b"", False)


def test_a_flow_run_as_a_script_travels_by_reference_under_its_file_name(project: Path, tmp_path: Path) -> None:
    """``python mainflow.py argo-create``: the class lives in __main__, the pod imports ``mainflow`` instead."""
    script = project / "mainflow.py"
    prelude = "import sys\nfrom flowkit import Flow, step\nfrom flowkit.packaging import build_payload\n"
    epilogue = "print(build_payload(MainFlow).reference)\n"
    script.write_text(_probe_flow_script("MainFlow", prelude, "1", epilogue))
    result = subprocess.run([sys.executable, str(script)], cwd=tmp_path, capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "mainflow:MainFlow"


def test_a_class_without_a_file_of_its_own_travels_by_value_with_its_graph_and_specs_but_no_pydantic(
    project: Path, tmp_path: Path
) -> None:
    """A class made inside a function (as a notebook cell's has no file) is pickled; its spec models become plain
    data, so unpickling it needs no pydantic."""
    script = project / "mainflow.py"
    script.write_text(
        textwrap.dedent(
            """
            import sys
            from flowkit import Flow, retry, step
            from flowkit.packaging import build_payload
            from mylib.features import build

            def helper():
                return build(4)

            def make():
                @retry(times=2)
                class MainFlow(Flow):
                    @step
                    def start(self):
                        self.values = helper()
                        self.next(self.end)

                    @step
                    def end(self):
                        pass
                return MainFlow

            open(sys.argv[1], "wb").write(build_payload(make()).data)
            """
        )
    )
    payload_file = tmp_path / "main.pkl"
    subprocess.run([sys.executable, str(script), str(payload_file)], cwd=tmp_path, check=True)
    loaded = _load_elsewhere(payload_file.read_bytes(), tmp_path, project)
    assert loaded.returncode == 0, loaded.stderr
    carried = "['__flowkit_class_specs__', '__flowkit_graph__', '__flowkit_step_specs__']"
    assert loaded.stdout.strip() == f"MainFlow {carried}"
    no_pydantic = _load_elsewhere(payload_file.read_bytes(), tmp_path, project, probe_code="'pydantic' in sys.modules")
    assert no_pydantic.stdout.split()[0] == "False", no_pydantic.stderr
    # mylib is a project module: referenced, not copied, so without the project it cannot load.
    assert "No module named 'mylib'" in _load_elsewhere(payload_file.read_bytes(), tmp_path).stderr


def test_a_local_module_outside_the_project_is_pickled_by_value_then_unregistered(
    project: Path, tmp_path: Path
) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "localhelpers.py").write_text("def double(x):\n    return 2 * x\n")
    script = project / "outsideflow.py"
    prelude = """
        import sys
        sys.path.insert(0, sys.argv[2])
        import cloudpickle
        from flowkit import Flow, step
        from flowkit.packaging import build_payload
        from localhelpers import double
        """
    epilogue = """
        open(sys.argv[1], "wb").write(build_payload(OutsideFlow).data)
        assert not cloudpickle.list_registry_pickle_by_value(), "registration leaked"
        """
    script.write_text(_probe_flow_script("OutsideFlow", prelude, "double(21)", epilogue))
    payload_file = tmp_path / "outside.pkl"
    subprocess.run([sys.executable, str(script), str(payload_file), str(outside)], cwd=tmp_path, check=True)
    result = _load_elsewhere(payload_file.read_bytes(), tmp_path, project, probe=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("42 OutsideFlow")


def test_user_registrations_survive_payload_building(project: Path, import_flow: ImportFlow) -> None:
    flow_cls = import_flow(project)
    import mylib.features

    cloudpickle.register_pickle_by_value(mylib.features)
    try:
        payload = build_payload(flow_cls, project)
        assert "mylib.features" in cloudpickle.list_registry_pickle_by_value()
        assert payload.reference == "packflow:PackFlow"
    finally:
        cloudpickle.unregister_pickle_by_value(mylib.features)


def test_a_flow_pickled_by_value_reads_the_current_of_the_process_that_runs_it(tmp_path: Path) -> None:
    """`current` must travel as a reference: a copy inside the payload is never filled in by the pod's executor."""
    script = tmp_path / "currentflow.py"
    script.write_text(
        _probe_flow_script(
            "CurrentFlow",
            "import sys\nimport cloudpickle\nfrom flowkit import Flow, current, step\n",
            "current.step_name, current.index_path",
            'open(sys.argv[1], "wb").write(cloudpickle.dumps(CurrentFlow))\n',
        )
    )
    payload_file = tmp_path / "current.pkl"
    subprocess.run([sys.executable, str(script), str(payload_file)], cwd=tmp_path, check=True)
    loader = textwrap.dedent(
        """
        import pickle, sys
        from flowkit import current
        cls = pickle.loads(open(sys.argv[1], "rb").read())
        current._bind(flow_name="CurrentFlow", run_id="r1", step_name="end", task_id="0.3.1", retry_count=0,
                      index_path=(3, 1), workflow_status=None)
        print(cls.probe())
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", loader, str(payload_file)], cwd=tmp_path, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "('end', (3, 1))"


ALIASING_PACKAGE = """
import sys
from fakereq import _detect
# As requests.packages does: the same module object under more names than its own.
sys.modules["fakereq.packages.chardet"] = _detect
sys.modules["fakereq.packages.charset_normalizer"] = _detect

def get():
    return _detect.detect()
"""


def _aliasing_package(site_packages: Path) -> Path:
    """A package that, like requests, puts one of its modules in sys.modules under two extra names."""
    (site_packages / "fakereq").mkdir(parents=True)
    (site_packages / "fakereq" / "__init__.py").write_text(ALIASING_PACKAGE)
    (site_packages / "fakereq" / "_detect.py").write_text("def detect():\n    return 'utf-8'\n")
    return site_packages


def _package_a_flow_importing_from(
    directory: Path, script: Path, payload_file: Path
) -> subprocess.CompletedProcess[str]:
    """Run ``script``: a flow that imports fakereq from ``directory``, built into a package and a payload."""
    prelude = f"""
        import sys
        sys.path.append({str(directory)!r})
        import fakereq
        from flowkit import Flow, step
        from flowkit.packaging import build_package, build_payload
        """
    epilogue = """
        print(build_package(RequestsFlow).manifest.sys_path)
        payload = build_payload(RequestsFlow)
        print(payload.reference)
        open(sys.argv[1], "wb").write(payload.data)
        """
    script.write_text(_probe_flow_script("RequestsFlow", prelude, "fakereq.get()", epilogue))
    return subprocess.run(
        [sys.executable, str(script), str(payload_file)], cwd=payload_file.parent, capture_output=True, text=True
    )


def test_packages_of_a_venv_inside_the_project_leave_the_flow_travelling_by_reference(
    project: Path, tmp_path: Path
) -> None:
    """The project's .venv is not the interpreter's (a notebook kernel added it to sys.path): still installed, so
    the pod, which imports the flow's module, must have the package too (nothing of it is shipped)."""
    (project / ".venv").mkdir()
    (project / ".venv" / "pyvenv.cfg").write_text("home = /usr/bin\n")
    site_packages = _aliasing_package(project / ".venv" / "lib" / "python3.11" / "site-packages")
    payload_file = tmp_path / "venv.pkl"
    built = _package_a_flow_importing_from(site_packages, project / "venvflow.py", payload_file)
    assert built.returncode == 0, built.stderr
    assert built.stdout.splitlines() == ["['code', 'lib']", "venvflow:RequestsFlow"], "no import root in the .venv"


def test_a_machine_local_package_with_aliases_in_sys_modules_is_registered_once(project: Path, tmp_path: Path) -> None:
    site_packages = _aliasing_package(tmp_path / "outside")
    payload_file = tmp_path / "aliases.pkl"
    built = _package_a_flow_importing_from(site_packages, project / "aliasflow.py", payload_file)
    assert built.returncode == 0, built.stderr
    loaded = _load_elsewhere(payload_file.read_bytes(), tmp_path, probe=True)
    assert loaded.stdout.startswith("utf-8 RequestsFlow"), loaded.stderr
