"""Read each step's transition from its source: an AST walk of the `self.next(...)` calls.

The source is read per step FUNCTION, never per class: a class defined in a notebook cell or a kernel's `__main__`
has no findable class source, but its functions' code objects still point at the cell's linecache entry. Only
literal transitions are accepted (`self.next(self.a)`, `self.next(self.a, self.b)`,
`self.next(self.a, foreach="items")`, and Metaflow's switch `self.next({"x": self.a, "y": self.b}, condition="var")`),
because the graph must be known before anything runs.
"""

from __future__ import annotations

import ast
import hashlib
import inspect
import linecache
from collections.abc import Callable
from types import FunctionType

from flowkit.errors import FlowDefinitionError
from flowkit.plain_data import PlainData

SwitchKey = str | int | float | bool
"""A switch case: a literal the condition artifact is compared with (``==``, as a dict lookup does)."""


class ParsedStep(PlainData, frozen=True):
    """What the source of one step function says about its place in the graph."""

    name: str
    targets: tuple[str, ...]
    """Steps named by its `self.next` call, in order; empty when it has none."""
    foreach_var: str | None
    condition: str | None
    """For a switch: the artifact whose value picks the branch."""
    switch_cases: tuple[tuple[SwitchKey, str], ...]
    """For a switch: (literal value of the condition, step it leads to), in source order."""
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
            f"calls {self_name}.next {len(calls)} times (lines {lines}); a step has exactly one self.next call: "
            f"to choose between steps at run time, use a switch, {self_name}.next({{'a': {self_name}.a, "
            f"'b': {self_name}.b}}, condition='choice')",
            flow=flow,
            step=name,
            lineno=calls[1].lineno,
        )
    transition = _Transition()
    next_lineno = None
    if calls:
        next_lineno = calls[0].lineno
        transition = _transition(flow, name, self_name, calls[0], next_lineno)
    return ParsedStep(
        name=name,
        targets=transition.targets,
        foreach_var=transition.foreach_var,
        condition=transition.condition,
        switch_cases=transition.switch_cases,
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
_ErrorFactory = Callable[[str], FlowDefinitionError]
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


class _Transition(PlainData, frozen=True):
    targets: tuple[str, ...] = ()
    foreach_var: str | None = None
    condition: str | None = None
    switch_cases: tuple[tuple[SwitchKey, str], ...] = ()


def _transition(flow: str, name: str, self_name: str, call: ast.Call, lineno: int) -> _Transition:
    """What one `self.next(...)` call says, all of it literal."""

    def error(message: str) -> FlowDefinitionError:
        return FlowDefinitionError(message, flow=flow, step=name, lineno=lineno)

    keywords: dict[str, str] = {}
    for keyword in call.keywords:
        if keyword.arg not in ("foreach", "condition"):
            shown = f"{keyword.arg}=" if keyword.arg else "**"
            raise error(f"{self_name}.next does not accept {shown}...; only foreach= or condition='artifact_name'")
        if not (isinstance(keyword.value, ast.Constant) and isinstance(keyword.value.value, str)):
            raise error(
                f"{keyword.arg}={ast.unparse(keyword.value)} must be a string literal naming an artifact, e.g. "
                f"{keyword.arg}='items'"
            )
        if not keyword.value.value.isidentifier():
            raise error(f"{keyword.arg}={keyword.value.value!r} is not an artifact name")
        keywords[keyword.arg] = keyword.value.value
    if "foreach" in keywords and "condition" in keywords:
        raise error("a transition is a foreach or a switch, not both")
    if "condition" in keywords or (len(call.args) == 1 and isinstance(call.args[0], ast.Dict)):
        return _switch(error, self_name, call, keywords.get("condition"))
    targets: list[str] = []
    for argument in call.args:
        targets.append(_step_reference(error, self_name, argument))
        if targets.count(targets[-1]) > 1:
            raise error(f"{self_name}.next names step {targets[-1]!r} twice")
    if not targets:
        raise error(f"{self_name}.next() names no step")
    foreach_var = keywords.get("foreach")
    if foreach_var is not None and len(targets) > 1:
        raise error(f"a foreach transitions to exactly one step, got {len(targets)} ({', '.join(targets)})")
    return _Transition(targets=tuple(targets), foreach_var=foreach_var)


def _step_reference(error: _ErrorFactory, self_name: str, node: ast.expr) -> str:
    """The step named by ``self.<step>``; anything computed is refused."""
    if not (isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == self_name):
        raise error(
            f"{self_name}.next({ast.unparse(node)}) has a computed target; name steps literally, "
            f"as in {self_name}.next({self_name}.train)"
        )
    return node.attr


def _switch(error: _ErrorFactory, self_name: str, call: ast.Call, condition: str | None) -> _Transition:
    """``self.next({value: self.step, ...}, condition="var")``: literal values, each leading to one step."""
    example = f"{self_name}.next({{'a': {self_name}.step_a, 'b': {self_name}.step_b}}, condition='choice')"
    if condition is None or len(call.args) != 1 or not isinstance(call.args[0], ast.Dict):
        raise error(f"a switch takes one dict of cases and condition='artifact_name', as in {example}")
    cases: list[tuple[SwitchKey, str]] = []
    for key, value in zip(call.args[0].keys, call.args[0].values, strict=True):
        if not (isinstance(key, ast.Constant) and isinstance(key.value, (str, int, float, bool))):
            shown = "**" if key is None else ast.unparse(key)
            raise error(f"switch case {shown} is not a literal string or number, as in {example}")
        if any(known == key.value and type(known) is type(key.value) for known, _ in cases):
            raise error(f"switch case {key.value!r} appears twice")
        cases.append((key.value, _step_reference(error, self_name, value)))
    targets = tuple(dict.fromkeys(step for _, step in cases))
    if len(cases) < 2:
        raise error(f"a switch needs at least two cases, as in {example}")
    return _Transition(targets=targets, condition=condition, switch_cases=tuple(cases))
