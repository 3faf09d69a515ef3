"""`run` and `resume` without click: the command lines every local run starts from, parsed in a few microseconds.

Importing click and building a flow's group is about a tenth of a short local run (`python myflow.py run`) and of
a resume that reuses nearly everything, so a plain `run` or `resume` is recognised here first: only the spellings
`--option value` of the command's own options and, for `run`, of the flow's parameters; for `resume`, the STEP
argument right after the command. Anything else (`--help`, `--opt=value`, an unknown or repeated option, a value
click would reject, shell completion) returns None and goes to click, which parses it or reports the error exactly
as before. Both paths run the flow through `run_locally`, so they cannot drift apart once the arguments are known.

The options of `run` and `resume` are declared once, in `RUN_OPTIONS` (and `resume`'s own in `RESUME_OPTIONS`):
the fast parser reads these tables, and the click options of both commands are made from them
(`RunOption.click_option`), so adding an option is one table entry plus the field it fills.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, TypeVar

from flowkit.errors import ParameterError, TaskFailedError
from flowkit.plain_data import PlainData, field
from flowkit.runtime import DEFAULT_MAX_NUM_SPLITS
from flowkit.settings import DATASTORE_ROOT

if TYPE_CHECKING:
    from flowkit.runtime.resume import ResumeFrom

F = TypeVar("F", bound=Callable[..., Any])

OptionKind = Literal["count", "directory", "file", "choice", "repeated", "text"]
"""A whole number >= ``minimum``; a directory path; a file path; one of ``choices``; a repeatable text option; any
text."""


class RunOption(PlainData, frozen=True):
    """One option of `run` and `resume`; ``name`` is also the field it fills (of `RunArguments`; of `ResumeFrom` for
    `RESUME_OPTIONS`)."""

    name: str
    kind: OptionKind
    help: str
    flag_name: str | None = None
    """The flag's name when it differs from ``name`` (``--tag`` fills ``tags``)."""
    default: Any = None
    minimum: int = 0
    choices: tuple[str, ...] = ()
    metavar: str | None = None

    @property
    def flag(self) -> str:
        return "--" + (self.flag_name or self.name).replace("_", "-")

    def parse(self, text: str) -> tuple[bool, Any]:
        """``(True, value)`` when click would accept ``text`` without a word, else ``(False, None)``: the fast path
        then leaves the whole command line to click, which reports the problem as it always has."""
        if self.kind == "count":
            if text.isascii() and text.isdigit() and int(text) >= self.minimum:
                return True, int(text)
        elif self.kind == "directory":
            if not Path(text).is_file():  # click.Path(file_okay=False) rejects a file
                return True, Path(text)
        elif self.kind == "file":
            if not Path(text).is_dir():  # click.Path(dir_okay=False) rejects a directory
                return True, Path(text)
        elif (self.kind == "choice" and text in self.choices) or self.kind == "text":
            return True, text
        return False, None  # a repeatable option is left to click

    def click_option(self) -> Callable[[F], F]:
        """The click decorator of this option (click is imported only when the click path builds a command)."""
        import click

        show_default = self.default is not None and self.kind != "repeated"
        common: dict[str, Any] = {"help": self.help, "show_default": show_default, "metavar": self.metavar}
        declarations = (self.flag, self.name)
        if self.kind == "repeated":
            return click.option(*declarations, multiple=True, **common)
        kinds: dict[str, Any] = {
            "count": click.IntRange(min=self.minimum),
            "directory": click.Path(file_okay=False, path_type=Path),
            "file": click.Path(dir_okay=False, path_type=Path),
            "choice": click.Choice(list(self.choices)),
            "text": click.STRING,
        }
        return click.option(*declarations, type=kinds[self.kind], default=self.default, **common)


RUN_OPTIONS: tuple[RunOption, ...] = (
    RunOption(
        name="max_workers", kind="count", help="Tasks run at the same time [default: the number of CPUs].", minimum=1
    ),
    RunOption(
        name="max_num_splits",
        kind="count",
        help="The widest foreach allowed: a guard against a bug starting thousands of tasks.",
        default=DEFAULT_MAX_NUM_SPLITS,
    ),
    RunOption(
        name="datastore_root",
        kind="directory",
        help=f"Datastore directory [default: {DATASTORE_ROOT.describe_default()}].",
    ),
    RunOption(name="run_id_file", kind="file", help="Write the new run's id to this file as soon as the run starts."),
    RunOption(
        name="environment",
        kind="choice",
        help="conda: run steps that declare @conda in their locked environment's interpreter.",
        default="local",
        choices=("local", "conda"),
    ),
    RunOption(
        name="tags",
        kind="repeated",
        help="Tag the new run (repeatable); the client's run.tags and Flow(...).runs(tag) see it.",
        flag_name="tag",
    ),
    RunOption(
        name="decorators",
        kind="repeated",
        help="Attach a step decorator to every step that lacks it (repeatable), e.g. --with retry:times=2.",
        flag_name="with",
        metavar="DECORATOR[:KEY=VALUE,...]",
    ),
)
_BY_FLAG = {option.flag: option for option in RUN_OPTIONS}
RESUME_OPTIONS: tuple[RunOption, ...] = (
    RunOption(name="origin_run_id", kind="text", help="The run to resume [default: the latest run of this flow]."),
)
"""The options `resume` has beyond `RUN_OPTIONS`, each filling the `ResumeFrom` field of its name."""
_RESUME_BY_FLAG = {option.flag: option for option in RESUME_OPTIONS}


class RunArguments(PlainData):
    """What `run` was asked to do, as click would have passed it to the run command."""

    parameters: dict[str, Any] = field(default_factory=dict)
    max_workers: int | None = None
    datastore_root: Path | None = None
    run_id_file: Path | None = None
    environment: str = "local"
    max_num_splits: int = DEFAULT_MAX_NUM_SPLITS
    tags: tuple[str, ...] = ()
    decorators: tuple[str, ...] = ()
    """`--with`: step decorators attached to every step for this run."""
    branch: str | None = None
    """`--branch` and `--production` (before the command, as in Metaflow): a `@project` flow's branch."""
    production: bool = False
    quiet: bool = False
    """`--quiet` (before the command): only task output and errors."""


def parse_run_arguments(flow_cls: type, arguments: Sequence[str]) -> RunArguments | None:
    """The arguments of a plain `run`, or None when only click can tell what they mean (or what is wrong)."""
    from flowkit.authoring.parameter import flow_parameters

    if not arguments or arguments[0] != "run" or _completion_requested():
        return None
    pairs = _option_pairs(arguments[1:])
    if pairs is None:
        return None
    declared = flow_parameters(flow_cls)
    if any(not name.isidentifier() or f"--{name}" in _BY_FLAG for name in declared):
        return None  # click's own naming rules would apply: leave them to it
    parsed = RunArguments()
    for flag, text in pairs:
        name = flag[2:]
        if name in declared:
            try:
                value = declared[name].parse(text)
            except ParameterError:
                return None
            if value is not None:
                parsed.parameters[name] = value
        else:
            option_value = _option_value(_BY_FLAG, flag, text)
            if option_value is None:
                return None
            setattr(parsed, *option_value)
    required = (p.name for p in declared.values() if p.required and p.default is None)
    if any(name not in parsed.parameters for name in required):
        return None
    return parsed


def parse_resume_arguments(arguments: Sequence[str]) -> tuple[RunArguments, ResumeFrom] | None:
    """The arguments of a plain `resume [STEP]`, or None when only click can tell what they mean (or what is wrong).

    A resume takes no flow parameters (it reuses its origin's), so only the two option tables are read.
    """
    if not arguments or arguments[0] != "resume" or _completion_requested():
        return None
    rest = arguments[1:]
    step = None
    if rest and not rest[0].startswith("-"):
        step, rest = rest[0], rest[1:]
    pairs = _option_pairs(rest)
    if pairs is None:
        return None
    from flowkit.runtime.resume import ResumeFrom  # a resume needs it next anyway; a plain run never gets here

    run_options: dict[str, Any] = {}
    resume_options: dict[str, Any] = {}
    for flag, text in pairs:
        table, options = (_RESUME_BY_FLAG, resume_options) if flag in _RESUME_BY_FLAG else (_BY_FLAG, run_options)
        option_value = _option_value(table, flag, text)
        if option_value is None:
            return None
        options.update([option_value])
    return RunArguments(**run_options), ResumeFrom(step=step, **resume_options)


def _option_pairs(arguments: Sequence[str]) -> list[tuple[str, str]] | None:
    """The arguments as `--flag value` pairs, each flag once, or None when they are not all of that plain shape."""
    if len(arguments) % 2:
        return None
    pairs = list(zip(arguments[::2], arguments[1::2], strict=True))
    if len({flag for flag, _ in pairs}) != len(pairs):
        return None
    if any(not flag.startswith("--") or not text or text.startswith("-") for flag, text in pairs):
        return None
    return pairs


def _option_value(table: dict[str, RunOption], flag: str, text: str) -> tuple[str, Any] | None:
    """(field name, value) of ``flag`` of ``table`` given ``text``, as click would parse it; None if the flag is not
    in the table or click would refuse the value."""
    option = table.get(flag)
    if option is None:
        return None
    accepted, value = option.parse(text)
    return (option.name, value) if accepted else None


def _completion_requested() -> bool:
    """Click answers shell completion when `_<PROG>_COMPLETE` is set; only click knows how."""
    return any(name.startswith("_") and name.endswith("_COMPLETE") for name in os.environ)


def run_locally(flow_cls: type, arguments: RunArguments, resume_from: ResumeFrom | None = None) -> None:
    """Run (or with ``resume_from``, resume) the flow on this machine and say how it ended; a failed run raises
    TaskFailedError (exit status 1)."""
    from flowkit.authoring.run_context import start_context
    from flowkit.cli.attach import attached_decorators
    from flowkit.runtime.api import run_flow

    context = start_context(flow_cls, tags=arguments.tags, branch=arguments.branch, production=arguments.production)
    with attached_decorators(flow_cls, arguments.decorators):
        run = run_flow(
            flow_cls,
            arguments.parameters,
            max_workers=arguments.max_workers,
            datastore_root=arguments.datastore_root,
            run_id_file=arguments.run_id_file,
            environment=arguments.environment,
            max_num_splits=arguments.max_num_splits,
            context=context,
            quiet=arguments.quiet,
            resume_from=resume_from,
        )
    finish(run, quiet=arguments.quiet)


def finish(run: Any, *, quiet: bool = False) -> None:
    """Report a finished run (`run` or `resume`) the way both commands always have (silent on success if quiet)."""
    if not run.successful:
        raise TaskFailedError(f"run {run.pathspec} failed")
    if not quiet:
        print(f"Run {run.pathspec} succeeded.", flush=True)
