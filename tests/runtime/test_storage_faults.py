"""A full, read-only or foreign datastore stops a run, a task or a pod task with one line naming the operation, the
path and the cause, and exit status 74 (`EXIT_STORAGE`); nothing committed is lost and a resume afterwards works.

The real faults need a mount namespace (`unshare -m`, for a small tmpfs that can fill up or be made read-only, or a
loop-mounted btrfs with a quota group limit for a real EDQUOT) and root (to run a command as another user); where
the machine offers neither, those cases are skipped, and the in-process cases below still prove the error's shape.
"""

from __future__ import annotations

import errno
import os
import shlex
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from flowkit import errors
from flowkit.datastore import DataStore
from flowkit.datastore.atomic import STORAGE_ERRNOS
from flowkit.errors import EXIT_STORAGE, StorageError
from flowkit.identity import TaskRef
from flowkit.packaging import bootstrap_command
from flowkit.packaging.bootstrap import SCRIPT_PATH
from flowkit.packaging.bootstrap_script import EXIT_DATASTORE_UNWRITABLE, UNWRITABLE_ERRNOS
from flowkit.runtime.launch import StorageStoppedRun, TaskLauncher
from tests.execution.flows import LinearFlow
from tests.packaging.conftest import ref_from_package_output
from tests.runtime.cli_runner import REPO_ROOT, write_flow

BIG_FLOW = """
import os
from flowkit import Flow, step


class BigFlow(Flow):
    @step
    def start(self):
        self.small = 1
        self.next(self.big)

    @step
    def big(self):
        self.blob = os.urandom(int(os.environ.get("BIG_BYTES", "10")))
        self.next(self.end)

    @step
    def end(self):
        pass


if __name__ == "__main__":
    BigFlow()
"""


def _can_unshare() -> bool:
    if os.geteuid() != 0 or shutil.which("unshare") is None:
        return False
    return subprocess.run(["unshare", "-m", "true"], capture_output=True).returncode == 0


needs_mount_namespace = pytest.mark.skipif(not _can_unshare(), reason="needs root and `unshare -m`")


@pytest.fixture
def shared_dir() -> Iterator[Path]:
    """A world-readable directory (pytest's own are private to root), for commands run as another user."""
    directory = Path(tempfile.mkdtemp(prefix="flowkit-storage-"))
    directory.chmod(0o755)
    yield directory
    shutil.rmtree(directory, ignore_errors=True)


def _in_namespace(script: str, directory: Path) -> subprocess.CompletedProcess[str]:
    """Run a bash ``script`` in a private mount namespace, in ``directory``, with flowkit importable."""
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT), "PY": sys.executable}
    return subprocess.run(
        ["unshare", "-m", "bash", "-c", "set -u\n" + script],
        cwd=directory,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def _sections(output: str) -> dict[str, str]:
    """The script's output split at ``== name`` marker lines."""
    sections: dict[str, str] = {}
    name = ""
    for line in output.splitlines():
        if line.startswith("== "):
            name = line[3:]
            sections[name] = ""
        elif name:
            sections[name] += line + "\n"
    return sections


def _one_line_error(text: str) -> None:
    errors = [line for line in text.splitlines() if "error:" in line]
    assert errors and "Traceback" not in text, text


needs_btrfs = pytest.mark.skipif(
    shutil.which("mkfs.btrfs") is None, reason="needs btrfs-progs (the nox test sessions install it as root)"
)


@needs_mount_namespace
@needs_btrfs
@pytest.mark.e2e
def test_an_exceeded_quota_stops_the_run_with_one_line_then_resume_works(shared_dir: Path) -> None:
    """A real quota, not a simulated errno: a btrfs subvolume with a 3 MiB quota group limit (the kernel reports
    EDQUOT while the filesystem still has room), loop-mounted in a private mount namespace."""
    write_flow(shared_dir, BIG_FLOW)
    result = _in_namespace(
        """
truncate -s 256m fs.img && mkfs.btrfs -q fs.img && mkdir fs && mount -o loop fs.img fs
btrfs quota enable fs && btrfs subvolume create fs/ds >/dev/null && btrfs qgroup limit 3m fs/ds
export FLOWKIT_DATASTORE_ROOT=$PWD/fs/ds
echo "== run"; BIG_BYTES=8000000 $PY flow.py run 2>&1; echo "exit $?"
echo "== leftovers"; find fs/ds -name '.tmp-*'
echo "== start"; ls fs/ds/runs/BigFlow/*/start/0/
echo "== resume"; btrfs qgroup limit none fs/ds; $PY flow.py resume 2>&1; echo "exit $?"
umount fs
""",
        shared_dir,
    )
    sections = _sections(result.stdout)
    assert "resume" in sections, result.stdout + result.stderr
    run = sections["run"]
    assert run.endswith(f"exit {EXIT_STORAGE}\n") and "(EDQUOT)" in run, result.stdout
    assert "/fs/ds/blobs/sha256/" in run, "the line names the blob's path"
    _one_line_error(run)
    assert sections["leftovers"] == "", "a failed write leaves no temporary file"
    assert "0.json" in sections["start"], "what was committed before the quota was reached is kept"
    assert sections["resume"].endswith("exit 0\n"), result.stdout


@needs_mount_namespace
@pytest.mark.e2e
def test_a_full_disk_stops_the_run_with_one_line_then_resume_works(shared_dir: Path) -> None:
    write_flow(shared_dir, BIG_FLOW)
    result = _in_namespace(
        """
mkdir ds && mount -t tmpfs -o size=3m tmpfs ds
export FLOWKIT_DATASTORE_ROOT=$PWD/ds
echo "== run"; BIG_BYTES=8000000 $PY flow.py run 2>&1; echo "exit $?"
echo "== leftovers"; find ds -name '.tmp-*'
echo "== start"; ls ds/runs/BigFlow/*/start/0/
echo "== pod"
$PY -m flowkit.task --datastore-root ds --flow flow.py:BigFlow --run-id pod --step start 2>&1 &&
  BIG_BYTES=8000000 $PY -m flowkit.task --datastore-root ds --flow flow.py:BigFlow --run-id pod --step big 2>&1
echo "exit $?"
echo "== resume"; $PY flow.py resume 2>&1; echo "exit $?"
""",
        shared_dir,
    )
    sections = _sections(result.stdout)
    run = sections["run"]
    assert run.endswith(f"exit {EXIT_STORAGE}\n") and "No space left on device (ENOSPC)" in run, result.stdout
    assert "/ds/blobs/sha256/" in run, "the line names the blob's path"
    _one_line_error(run)
    assert sections["leftovers"] == "", "a failed write leaves no temporary file"
    assert "0.json" in sections["start"], "what was committed before the disk filled is kept"
    pod = sections["pod"]
    assert pod.endswith(f"exit {EXIT_STORAGE}\n") and "(ENOSPC)" in pod, result.stdout
    _one_line_error(pod)
    assert sections["resume"].endswith("exit 0\n"), result.stdout


@needs_mount_namespace
@pytest.mark.e2e
def test_a_read_only_datastore_stops_the_run_and_stays_readable(shared_dir: Path) -> None:
    write_flow(shared_dir, BIG_FLOW)
    result = _in_namespace(
        """
mkdir ds && mount -t tmpfs -o size=30m tmpfs ds
export FLOWKIT_DATASTORE_ROOT=$PWD/ds
echo "== first"; $PY flow.py run > /dev/null 2>&1; echo "exit $?"
mount -o remount,ro ds
echo "== run"; $PY flow.py run 2>&1; echo "exit $?"
echo "== resume"; $PY flow.py resume 2>&1; echo "exit $?"
echo "== gc"; $PY flow.py gc --older-than 0 --grace-hours 0 2>&1; echo "exit $?"
echo "== client"; $PY -c 'from flowkit.client import Run; print("blob", len(Run.latest("BigFlow").data.blob))' 2>&1
""",
        shared_dir,
    )
    sections = _sections(result.stdout)
    assert sections["first"] == "exit 0\n", result.stdout
    for name, operation in (("run", "create directory"), ("resume", "create directory"), ("gc", "delete run")):
        output = sections[name]
        assert output.endswith(f"exit {EXIT_STORAGE}\n") and "Read-only file system (EROFS)" in output, result.stdout
        assert f"cannot {operation}" in output
        _one_line_error(output)
    assert sections["client"] == "blob 10\n", "a read-only datastore is still read"


@pytest.mark.skipif(os.geteuid() != 0 or shutil.which("setpriv") is None, reason="needs root and setpriv")
@pytest.mark.e2e
def test_a_datastore_another_user_owns_stops_the_run_with_one_line(shared_dir: Path) -> None:
    flow_file = write_flow(shared_dir, BIG_FLOW)
    flow_file.chmod(0o644)
    root = shared_dir / "ds"
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT), "FLOWKIT_DATASTORE_ROOT": str(root)}
    first = subprocess.run([sys.executable, str(flow_file), "run"], env=env, capture_output=True, text=True)
    assert first.returncode == 0, first.stderr
    as_nobody = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", sys.executable]
    result = subprocess.run([*as_nobody, str(flow_file), "run"], env=env, capture_output=True, text=True, cwd="/")
    assert result.returncode == EXIT_STORAGE, result.stderr
    assert "Permission denied (EACCES)" in result.stderr and str(root / "runs" / "BigFlow") in result.stderr
    _one_line_error(result.stderr)


def test_a_storage_failure_while_storing_an_artifact_names_operation_path_and_cause(
    datastore_root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def full(fd: int, data: object) -> int:
        raise OSError(errno.ENOSPC, "No space left on device")

    store = DataStore(datastore_root)
    monkeypatch.setattr(os, "write", full)
    with pytest.raises(StorageError) as raised:
        store.put_artifact(b"x" * 100)
    assert raised.value.exit_code == EXIT_STORAGE and raised.value.errno == errno.ENOSPC
    assert str(raised.value).startswith(f"cannot write {store.blobs.directory}/")
    assert str(raised.value).endswith(": No space left on device (ENOSPC)")
    assert not [path for path in datastore_root.rglob("*") if path.is_file()], "no partial file is left"


def test_a_missing_run_id_file_directory_is_one_line(tmp_path: Path, datastore_root: Path) -> None:
    flow_file = write_flow(tmp_path, BIG_FLOW)
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT), "FLOWKIT_DATASTORE_ROOT": str(datastore_root)}
    missing = tmp_path / "no" / "such" / "dir" / "id"
    result = subprocess.run(
        [sys.executable, str(flow_file), "run", "--run-id-file", str(missing)], env=env, capture_output=True, text=True
    )
    assert result.returncode == 1
    assert f"cannot write the run id to --run-id-file {missing}: No such file or directory" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("exit_code", [EXIT_STORAGE, EXIT_DATASTORE_UNWRITABLE])
def test_a_task_process_stopped_by_its_storage_stops_the_local_run(datastore_root: Path, exit_code: int) -> None:
    """A task in a conda environment runs `python -m flowkit.task`, which exits 77 when the datastore may not be
    written: the local run stops there as for any storage failure, instead of recording the step as failed."""
    store = DataStore(datastore_root)
    launcher = TaskLauncher(LinearFlow, store, {}, parameters={})
    task = TaskRef("LinearFlow", "s1", "start")
    launcher._logs[(task, 0)] = store.log_writers(task, 0)  # what start() opens for the process it starts
    with pytest.raises(StorageStoppedRun) as stopped:
        launcher.outcome(task, 0, exit_code, timed_out=False)
    assert stopped.value.exit_code == EXIT_STORAGE
    assert store.list_attempts(task) == [], "no failed record: a resume runs the task again"


def test_the_task_and_the_bootstrap_agree_on_which_refusals_are_permanent() -> None:
    """Both exit 77 (not retried) for exactly these; the bootstrap runs before flowkit can be imported."""
    permanent = {code for code in STORAGE_ERRNOS if StorageError("write", "/x", OSError(code, "")).permanent}
    assert permanent == set(UNWRITABLE_ERRNOS) == {errno.EACCES, errno.EPERM, errno.EROFS}


def test_the_task_and_the_bootstrap_exit_with_the_same_status_when_the_datastore_is_unwritable() -> None:
    """The retryStrategy excludes one status: the task CLI's (from flowkit.errors) and the bootstrap's own copy."""
    assert errors.EXIT_DATASTORE_UNWRITABLE == EXIT_DATASTORE_UNWRITABLE == 77


@needs_mount_namespace
@pytest.mark.e2e
def test_a_pod_whose_package_cache_is_read_only_stops_with_one_line_and_is_not_retried(tmp_path: Path) -> None:
    project = tmp_path / "project"
    project.mkdir()
    flow_file = write_flow(project, BIG_FLOW)
    datastore = tmp_path / "ds"
    published = subprocess.run(
        [sys.executable, str(flow_file), "package", "--output", str(datastore)],
        cwd=project,
        capture_output=True,
        text=True,
        check=True,
    )
    ref = ref_from_package_output(published.stdout)
    task_argv = ["--datastore-root", str(datastore), "--run-id", "ro", "--step", "start"]
    command = bootstrap_command(
        ref,
        task_argv,
        datastore_mount=str(datastore),
        python=sys.executable,
        script=str(SCRIPT_PATH),
        cache_dir=str(datastore / "cache"),
    )
    script = f'mount --bind ds ds && mount -o remount,bind,ro ds && {shlex.join(command)}; echo "exit $?"'
    result = _in_namespace(script, tmp_path)
    assert result.stdout.endswith(f"exit {EXIT_DATASTORE_UNWRITABLE}\n"), result.stdout + result.stderr
    (line,) = [line for line in result.stderr.splitlines() if line.strip()]
    assert line.startswith("flowkit: the datastore is not writable: ") and "read-only" in line, line
