"""Read each step's transition from its source: an AST walk of the `self.next(...)` calls.

The source is read per step FUNCTION, never per class: a class defined in a notebook cell or a kernel's `__main__`
has no findable class source, but its functions' code objects still point at the cell's linecache entry. Only
literal transitions are accepted (`self.next(self.a)`, `self.next(self.a, self.b)`,
`self.next(self.a, foreach="items")`), because the graph must be known before anything runs.
"""

from __future__ import annotations

import ast
import hashlib
import inspect
import linecache
from dataclasses import dataclass
from types import FunctionType

from flowkit.errors import FlowDefinitionError


@dataclass(frozen=True)
class ParsedStep:
    """What the source of one step function says about its place in the graph."""

    name: str
    targets: tuple[str, ...]
    """Steps named by its `self.next` call, in order; empty when it has none."""
    foreach_var: str | None
    calls_next: bool
    takes_inputs: bool
    lineno: int
    """Line of the ``def``."""
    next_lineno: int | None
    """Line of the `self.next` call, if any."""
    doc: str | None
    code_digest: str
    """sha256 of the step's arguments and body as parsed (decorators, comments and line numbers left out)."""


def parse_step(flow: str, name: str, function: FunctionType) -> ParsedStep:
    """Parse one step function; raise `FlowDefinitionError` for a transition that cannot be read statically."""
    definition = _function_ast(flow, name, function)
    lineno = definition.lineno
    arguments = [*definition.args.posonlyargs, *definition.args.args]
    if not arguments:
        raise FlowDefinitionError("a step must take 'self'", flow=flow, step=name, lineno=lineno)
    self_name = arguments[0].arg
    calls = [
        node
        for node in ast.walk(definition)
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr == "next"
        and isinstance(node.func.value, ast.Name)
        and node.func.value.id == self_name
    ]
    calls.sort(key=lambda call: call.lineno)
    if len(calls) > 1:
        lines = ", ".join(str(call.lineno) for call in calls)
        raise FlowDefinitionError(
            f"calls {self_name}.next {len(calls)} times (lines {lines}); conditional transitions are not supported: "
            "a step has exactly one self.next call, and branches are static splits joined later",
            flow=flow,
            step=name,
            lineno=calls[1].lineno,
        )
    targets: tuple[str, ...] = ()
    foreach_var = None
    next_lineno = None
    if calls:
        next_lineno = calls[0].lineno
        targets, foreach_var = _transition(flow, name, self_name, calls[0], next_lineno)
    return ParsedStep(
        name=name,
        targets=targets,
        foreach_var=foreach_var,
        calls_next=bool(calls),
        takes_inputs=len(arguments) >= 2,
        lineno=lineno,
        next_lineno=next_lineno,
        doc=ast.get_docstring(definition),
        code_digest=_code_digest(definition),
    )


def _code_digest(definition: ast.FunctionDef | ast.AsyncFunctionDef) -> str:
    """What resume compares to tell whether a step changed: its code, not where it sits in the file.

    The AST dump leaves out line numbers and comments, so moving a step or editing a comment keeps its tasks
    reusable; decorators are left out because they say where a task runs (pod size, retries), not what it computes.
    """
    dumped = ast.dump(definition.args) + "".join(ast.dump(statement) for statement in definition.body)
    return hashlib.sha256(dumped.encode()).hexdigest()


def _function_ast(flow: str, name: str, function: FunctionType) -> ast.FunctionDef | ast.AsyncFunctionDef:
    """The function's AST node, parsed from its whole file, so its line numbers are the file's own.

    The whole source file (or notebook cell) is parsed once and its functions indexed by where they start, rather
    than cutting each function out with ``inspect.getsourcelines``: that tokenizes the file again for every step, a
    tenth of a short run's start-up.
    """
    code = inspect.unwrap(function).__code__
    try:
        definitions = _definitions(code.co_filename, function.__globals__)
    except SyntaxError as exc:
        raise FlowDefinitionError(
            f"cannot parse the source file {code.co_filename} ({exc.msg}, line {exc.lineno})", flow=flow, step=name
        ) from None
    definition = definitions.get((code.co_name, code.co_firstlineno))
    if definition is None:
        raise FlowDefinitionError(
            f"cannot read the step's source (nothing defines {code.co_name!r} at line {code.co_firstlineno} of "
            f"{code.co_filename}); flowkit reads the graph from the source of each step",
            flow=flow,
            step=name,
        )
    return definition


_FunctionIndex = dict[tuple[str, int], "ast.FunctionDef | ast.AsyncFunctionDef"]
_parsed_files: dict[str, tuple[list[str], _FunctionIndex]] = {}
"""Per source file: the lines that were parsed (as ``linecache`` holds them) and the index built from them."""


def _definitions(filename: str, module_globals: dict[str, object]) -> _FunctionIndex:
    """Every function of a source file, keyed by (name, first line counting decorators, as ``co_firstlineno`` does).

    Reparsed only when ``linecache`` holds other lines for the file than those parsed last time.
    """
    lines = linecache.getlines(filename, module_globals)
    cached = _parsed_files.get(filename)
    if cached is not None and cached[0] is lines:
        return cached[1]
    index: _FunctionIndex = {}
    for node in ast.walk(ast.parse("".join(lines), filename)):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            first = min([node.lineno, *(decorator.lineno for decorator in node.decorator_list)])
            index[(node.name, first)] = node
    _parsed_files[filename] = (lines, index)
    return index


def _transition(
    flow: str, name: str, self_name: str, call: ast.Call, lineno: int
) -> tuple[tuple[str, ...], str | None]:
    """(targets, foreach variable) of one `self.next(...)` call, all of them literal."""
    targets: list[str] = []
    for argument in call.args:
        if not (
            isinstance(argument, ast.Attribute)
            and isinstance(argument.value, ast.Name)
            and argument.value.id == self_name
        ):
            raise FlowDefinitionError(
                f"{self_name}.next({ast.unparse(argument)}) has a computed target; name steps literally, "
                f"as in {self_name}.next({self_name}.train)",
                flow=flow,
                step=name,
                lineno=lineno,
            )
        if argument.attr in targets:
            raise FlowDefinitionError(
                f"{self_name}.next names step {argument.attr!r} twice", flow=flow, step=name, lineno=lineno
            )
        targets.append(argument.attr)
    if not targets:
        raise FlowDefinitionError(f"{self_name}.next() names no step", flow=flow, step=name, lineno=lineno)
    foreach_var = None
    for keyword in call.keywords:
        if keyword.arg != "foreach":
            shown = f"{keyword.arg}=" if keyword.arg else "**"
            raise FlowDefinitionError(
                f"{self_name}.next does not accept {shown}...; only foreach='artifact_name'",
                flow=flow,
                step=name,
                lineno=lineno,
            )
        if not (isinstance(keyword.value, ast.Constant) and isinstance(keyword.value.value, str)):
            raise FlowDefinitionError(
                f"foreach={ast.unparse(keyword.value)} must be a string literal naming an artifact, e.g. "
                "foreach='items'",
                flow=flow,
                step=name,
                lineno=lineno,
            )
        if not keyword.value.value.isidentifier():
            raise FlowDefinitionError(
                f"foreach={keyword.value.value!r} is not an artifact name", flow=flow, step=name, lineno=lineno
            )
        foreach_var = keyword.value.value
    if foreach_var is not None and len(targets) > 1:
        raise FlowDefinitionError(
            f"a foreach transitions to exactly one step, got {len(targets)} ({', '.join(targets)})",
            flow=flow,
            step=name,
            lineno=lineno,
        )
    return tuple(targets), foreach_var
