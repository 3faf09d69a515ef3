"""A stand-in `micromamba`/`conda` executable: records each call and lays out an environment like the real one.

`create --prefix P --file F` makes `P/conda-meta/history`, copies F into `P/conda-meta/explicit.txt`, and makes
`P/bin/python` a wrapper around the interpreter running the tests, so a command exec'd "in the environment" runs.
Environment variables steer it: STANDIN_LOG (file to append one JSON line per call to), STANDIN_FAIL (exit 1 after
creating part of the prefix, like an interrupted download), STANDIN_DELAY (seconds to sleep while creating, to make
concurrent tasks overlap).
"""

from __future__ import annotations

import os
import stat
import sys
from pathlib import Path

# The environment's `python`: records `-m pip ...` calls instead of installing, runs anything else with the real
# interpreter and exports its own path as STANDIN_PYTHON so a test sees which interpreter ran its command.
PYTHON_WRAPPER = """#!{python}
import json, os, sys
if sys.argv[1:3] == ["-m", "pip"]:
    with open(os.environ["STANDIN_LOG"], "a") as log:
        log.write(json.dumps({{"argv": ["python", *sys.argv[1:]], "pid": os.getpid()}}) + "\\n")
    sys.exit(0)
os.environ["STANDIN_PYTHON"] = os.path.abspath(sys.argv[0])
os.execv(sys.executable, [sys.executable, *sys.argv[1:]])
"""

STANDIN_SOURCE = """#!{python}
import json, os, sys, time
from pathlib import Path
PYTHON_WRAPPER = {wrapper!r}
arguments = sys.argv[1:]
with open(os.environ["STANDIN_LOG"], "a") as log:
    log.write(json.dumps({{"argv": [os.path.basename(sys.argv[0]), *arguments], "pid": os.getpid()}}) + "\\n")
if arguments[:1] != ["create"]:
    sys.exit(0)
prefix = Path(arguments[arguments.index("--prefix") + 1])
explicit = Path(arguments[arguments.index("--file") + 1]).read_text()
assert explicit.lstrip().startswith(("#", "@EXPLICIT")), "expected an explicit lockfile"
(prefix / "conda-meta").mkdir(parents=True)
(prefix / "conda-meta" / "explicit.txt").write_text(explicit)
time.sleep(float(os.environ.get("STANDIN_DELAY", "0")))
if os.environ.get("STANDIN_FAIL"):
    sys.exit(1)
(prefix / "bin").mkdir()
python = prefix / "bin" / "python"
python.write_text(PYTHON_WRAPPER)
python.chmod(0o755)
"""


def install_standin(bin_dir: Path, name: str = "micromamba") -> Path:
    """Write the stand-in installer as `bin_dir/name` and return its path."""
    bin_dir.mkdir(parents=True, exist_ok=True)
    path = bin_dir / name
    path.write_text(STANDIN_SOURCE.format(python=sys.executable, wrapper=PYTHON_WRAPPER.format(python=sys.executable)))
    path.chmod(path.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    return path


def standin_path(bin_dir: Path) -> str:
    """A PATH holding the stand-in and the basic system tools, but no real conda."""
    return os.pathsep.join([str(bin_dir), "/usr/bin", "/bin"])
