"""The ``python -m flowkit.task`` command line: the one builder and the one parser.

The local runtime (a step in its conda interpreter) and the Argo compiler (every pod) build the command line of a
task through `TaskInvocation.to_argv`, and the task entry point reads it back with `TaskInvocation.from_argv`, so an
option is declared once, in `_OPTIONS`, and the three can never disagree on its spelling or text form.

A value may be given as text that the command line carries verbatim: the compiler passes Argo placeholders such as
``{{inputs.parameters.index-path}}`` or ``{{retries}}``, which Argo replaces when it starts the pod.

Standard library only: a pod parses its command line before it imports anything else of flowkit. The command
lines flowkit itself writes are read without argparse (`_parse_plain`), which with gettext, locale and shutil costs
a pod a few milliseconds of start-up; anything else (``--help``, an abbreviated or unknown flag, a value that looks
like a flag, a missing option) goes to argparse, so its usage messages and exit status stay those of argparse.
The types are NamedTuples rather than dataclasses for the same reason: ``dataclasses`` and the ``inspect`` it imports
would cost every pod's start some 10 ms.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Mapping, Sequence
from functools import partial
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Literal, NamedTuple

from flowkit.identity import IndexPath, TaskRef, format_index_path, parse_index_path
from flowkit.settings import DATASTORE_ROOT

if TYPE_CHECKING:
    import argparse

TASK_MODULE = "flowkit.task"
"""Run with ``python -m``: the task entry point (`flowkit.task.cli.main`)."""


OptionKind = Literal["value", "switch", "pairs"]
"""A ``--flag VALUE``; a ``--flag`` alone (a bool field); a repeated ``--flag NAME=VALUE`` (a mapping field)."""


class _Option(NamedTuple):
    """One option of the command line, named after the `TaskInvocation` field it carries."""

    field: str
    help: str
    kind: OptionKind = "value"
    required: bool = False
    metavar: str | None = None
    to_text: Callable[[Any], str] = str
    from_text: Callable[[str], Any] = str
    singular: str | None = None
    """The flag's name when it differs from the field's (one ``--param`` per entry of ``params``)."""

    @property
    def flag(self) -> str:
        return "--" + (self.singular or self.field).replace("_", "-")

    def words(self, value: Any) -> list[str]:
        """How ``value`` is written on the command line."""
        if self.kind == "switch":
            return [self.flag]
        if self.kind == "pairs":
            return [word for name, text in value.items() for word in (self.flag, f"{name}={self.to_text(text)}")]
        return [self.flag, self.to_text(value)]

    def value(self, parsed: Any) -> Any:
        """The field's value from what argparse collected for this option."""
        if self.kind == "switch":
            return parsed
        if self.kind == "pairs":
            return dict(_pair(self.flag, text) for text in parsed)
        return self.from_text(parsed)

    def add_to(self, parser: argparse.ArgumentParser) -> None:
        if self.kind == "switch":
            parser.add_argument(self.flag, dest=self.field, action="store_true", help=self.help)
        else:
            action = "append" if self.kind == "pairs" else "store"
            parser.add_argument(
                self.flag, dest=self.field, action=action, required=self.required, metavar=self.metavar, help=self.help
            )


def _index_path_text(value: IndexPath | str) -> str:
    return value if isinstance(value, str) else format_index_path(value)


def _whole_number(flag: str, text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise ValueError(f"{flag} must be a whole number, got {text!r}") from None


def _pair(flag: str, text: str) -> tuple[str, str]:
    name, separator, value = text.partition("=")
    if not separator or not name:
        raise ValueError(f"{flag} takes NAME=JSON, got {text!r}")
    return name, value


_OPTIONS: tuple[_Option, ...] = (
    _Option("datastore_root", f"datastore root (default: {DATASTORE_ROOT.describe_default()})"),
    _Option("flow", "the flow class: 'package.module:Class' or 'path/to/file.py:Class'"),
    _Option("run_id", "the run the task belongs to", required=True),
    _Option("step", "the step the task runs", required=True),
    _Option(
        "index_path",
        "foreach positions, dot-joined ('3.1'; '' for none)",
        to_text=_index_path_text,
        from_text=parse_index_path,
    ),
    _Option("attempt", "the attempt number (0 first)", from_text=partial(_whole_number, "--attempt")),
    _Option("params", "a parameter (start only), repeatable", kind="pairs", metavar="NAME=JSON", singular="param"),
    _Option("split_output", "foreach step: write the JSON list of split indices here"),
    _Option("workflow_status", "exit-handler step: the workflow's final status"),
    _Option("branch_output", "switch step: write the name of the branch it took here"),
    _Option(
        "max_num_splits",
        "foreach step: fail if it yields more splits than this",
        from_text=partial(_whole_number, "--max-num-splits"),
    ),
    _Option("tee_logs", "also copy stdout/stderr into the datastore", kind="switch"),
    _Option(
        "lifeline_fd",
        "read end of a pipe: when its writer (the local scheduler) dies, this task dies with what it started",
        from_text=partial(_whole_number, "--lifeline-fd"),
    ),
)


_NO_PARAMS: Mapping[str, str] = MappingProxyType({})
"""The default of `TaskInvocation.params`: one empty mapping shared by every invocation, so it is read-only."""


class TaskInvocation(NamedTuple):
    """Everything ``python -m flowkit.task`` is told about the task attempt it runs.

    ``index_path`` and ``attempt`` may be text (placeholders a scheduler fills in later); `from_argv` always
    returns parsed values. An option equal to its default is left off the command line.
    """

    run_id: str
    step: str
    index_path: IndexPath | str = ()
    attempt: int | str = 0
    datastore_root: str | None = None
    flow: str | None = None
    """``module:Class`` or ``file.py:Class``; None when the entry point is handed the class (the package bootstrap)."""
    params: Mapping[str, str] = _NO_PARAMS
    """Parameter name -> JSON text (start task only)."""
    split_output: str | None = None
    branch_output: str | None = None
    workflow_status: str | None = None
    max_num_splits: int | None = None
    tee_logs: bool = False
    lifeline_fd: int | None = None
    """A descriptor inherited from the local scheduler (`flowkit.runtime.worker.spawn_task`)."""

    @classmethod
    def for_task(cls, task: TaskRef, attempt: int, **options: Any) -> TaskInvocation:
        """The invocation of ``attempt`` of ``task``; ``options`` are the other fields."""
        return cls(run_id=task.run_id, step=task.step, index_path=task.index_path, attempt=attempt, **options)

    def task_ref(self, flow: str) -> TaskRef:
        """The task this invocation runs, in flow ``flow``."""
        path = parse_index_path(self.index_path) if isinstance(self.index_path, str) else self.index_path
        return TaskRef(flow, self.run_id, self.step, path)

    @property
    def attempt_number(self) -> int:
        return _whole_number("--attempt", self.attempt) if isinstance(self.attempt, str) else self.attempt

    def to_argv(self) -> list[str]:
        """The command line's arguments (what follows ``python -m flowkit.task``)."""
        defaults = TaskInvocation(run_id="", step="")
        argv: list[str] = []
        for option in _OPTIONS:
            value = getattr(self, option.field)
            if option.required or value != getattr(defaults, option.field):
                argv += option.words(value)
        return argv

    def command(self, python: str) -> list[str]:
        """The whole command that runs this task with interpreter ``python``."""
        return [python, "-m", TASK_MODULE, *self.to_argv()]

    @classmethod
    def from_argv(cls, argv: Sequence[str] | None = None) -> TaskInvocation:
        """Parse a command line; a malformed one exits with argparse's usage message (status 2), a badly formed
        value raises ValueError naming the option."""
        words = list(sys.argv[1:] if argv is None else argv)
        parsed = _parse_plain(words)
        if parsed is None:
            parsed = vars(argument_parser().parse_args(words))
        return cls(
            **{option.field: option.value(parsed[option.field]) for option in _OPTIONS if option.field in parsed}
        )


def _parse_plain(words: list[str]) -> dict[str, Any] | None:
    """What argparse would collect from ``words``, for a command line made only of exact ``--flag value`` pairs and
    switches with every required option present; None for anything else, which argparse then reads (and reports)."""
    by_flag = {option.flag: option for option in _OPTIONS}
    parsed: dict[str, Any] = {}
    position = 0
    while position < len(words):
        option = by_flag.get(words[position])
        if option is None:
            return None
        if option.kind == "switch":
            parsed[option.field] = True
            position += 1
            continue
        if position + 1 == len(words) or words[position + 1].startswith("-"):
            return None
        value = words[position + 1]
        if option.kind == "pairs":
            parsed.setdefault(option.field, []).append(value)
        else:
            parsed[option.field] = value
        position += 2
    if any(option.required and option.field not in parsed for option in _OPTIONS):
        return None
    return parsed


def argument_parser() -> argparse.ArgumentParser:
    """The parser of the task command line (also what ``python -m flowkit.task --help`` prints).

    Options left off are absent from the parsed namespace, so the NamedTuple's defaults apply.
    """
    import argparse

    parser = argparse.ArgumentParser(
        prog=f"python -m {TASK_MODULE}",
        description="Run one task of a flowkit flow.",
        argument_default=argparse.SUPPRESS,
    )
    for option in _OPTIONS:
        option.add_to(parser)
    return parser
