"""Errors in the user's flow file, shown as one line with the file and line, not as a traceback through flowkit.

A syntax error, a failed import or a bad decorator argument (``@kubernetes(gpu=-1)``) is the user's to fix in their
own file: what they need is where and what, ``flow.py:12: FlowDefinitionError: TrainFlow.train @kubernetes.gpu: ...``.
Under ``python flow.py ...`` such an error is raised while Python runs the file, before flowkit's command line
exists, so `install_script_hook` (called by ``import flowkit``) puts a ``sys.excepthook`` in place for scripts; the
``flowkit FILE`` console script imports the file itself and reports the same line (`describe_user_error`). The full
traceback stays one switch away: ``--debug`` anywhere on the command line, or the `DEBUG` setting. In a notebook or
an interactive interpreter nothing is installed, so the errors raise as usual.

Standard library only, and cheap: ``import flowkit`` loads this module, in every task pod too, so the settings
(pathlib, dataclasses) load only when an error is reported.
"""

from __future__ import annotations

import os
import sys
from types import TracebackType

DEBUG_FLAG = "--debug"


def debug_enabled() -> bool:
    """Whether full tracebacks were asked for (``--debug`` on the command line or the `DEBUG` setting)."""
    from flowkit import settings

    return DEBUG_FLAG in sys.argv[1:] or settings.enabled(settings.DEBUG)


def without_debug_flag(arguments: list[str]) -> list[str]:
    """The command line minus ``--debug``, which is a global switch rather than an option of any command."""
    return [argument for argument in arguments if argument != DEBUG_FLAG]


def describe_user_error(error: BaseException, flow_file: str) -> str | None:
    """``file:line: Type: message`` if ``error`` is a syntax, import or flowkit error raised by ``flow_file``'s own
    code (a decorator on one of its classes counts), else None: anything else is a bug and keeps its traceback."""
    from flowkit.errors import FlowkitError

    if not isinstance(error, (SyntaxError, ImportError, FlowkitError)):
        return None
    location = _location_in(error, error.__traceback__, os.path.realpath(flow_file))
    if location is None:
        return None
    path, line = location
    message = error.msg if isinstance(error, SyntaxError) else str(error)
    return f"{path}:{line}: {type(error).__name__}: {message}"


def install_script_hook() -> None:
    """For ``python flow.py ...``: report errors in the script's own file as one line (see the module docstring)."""
    main = sys.modules.get("__main__")
    script = getattr(main, "__file__", None)
    interactive = hasattr(sys, "ps1") or sys.flags.interactive or "IPython" in sys.modules
    if not script or interactive or getattr(sys.excepthook, "_flowkit_hook", False):
        return
    previous = sys.excepthook

    def report_user_errors(kind: type[BaseException], error: BaseException, trace: TracebackType | None) -> None:
        line = None if debug_enabled() else describe_user_error(error, script)
        if line is None:
            previous(kind, error, trace)
        else:
            print(f"error: {line}", file=sys.stderr)

    report_user_errors._flowkit_hook = True  # type: ignore[attr-defined]
    sys.excepthook = report_user_errors


def _location_in(error: BaseException, trace: TracebackType | None, flow_file: str) -> tuple[str, int] | None:
    """The innermost line of ``flow_file`` the error passed through; for a syntax error met while running it (in
    the file itself or in a module it imports), the line of the syntax error."""
    found = None
    while trace is not None:
        code = trace.tb_frame.f_code
        if os.path.realpath(code.co_filename) == flow_file:
            found = (code.co_filename, trace.tb_lineno)
        trace = trace.tb_next
    if isinstance(error, SyntaxError) and error.filename:
        in_file = os.path.realpath(error.filename) == flow_file
        return (error.filename, error.lineno or 0) if in_file or found else None
    return found
