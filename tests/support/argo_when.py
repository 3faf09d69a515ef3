"""A DAG task's ``when``, evaluated as Argo does once its ``{{...}}`` tags are substituted (govaluate syntax).

Only the subset flowkit emits is implemented, and anything else is refused: single-quoted strings compared with
``==`` or ``!=``, combined with ``&&``, ``||`` and parentheses (``&&`` binding tighter, as in govaluate).
"""

from __future__ import annotations

import re

from tests.support.argo_errors import UnsupportedManifestFeature

_TOKEN = re.compile(r"\s*(?:('(?:[^'\\]|\\.)*')|(==|!=|&&|\|\||\(|\)))")


def evaluate_when(expression: str, *, where: str) -> bool:
    """The truth of a substituted ``when``; UnsupportedManifestFeature for syntax outside the subset."""
    tokens = _tokens(expression, where)
    parser = _Parser(tokens, expression, where)
    value = parser.disjunction()
    if parser.position != len(tokens):
        raise UnsupportedManifestFeature(f"{where}: when {expression!r}: unexpected {tokens[parser.position]!r}")
    return value


def _tokens(expression: str, where: str) -> list[str]:
    tokens, position = [], 0
    while expression[position:].strip():
        match = _TOKEN.match(expression, position)
        if match is None:
            raise UnsupportedManifestFeature(
                f"{where}: when {expression!r}: only 'text' == 'text', !=, &&, || and parentheses are emulated"
            )
        tokens.append(match.group(1) or match.group(2))
        position = match.end()
    return tokens


class _Parser:
    def __init__(self, tokens: list[str], expression: str, where: str) -> None:
        self.tokens, self.expression, self.where, self.position = tokens, expression, where, 0

    def disjunction(self) -> bool:
        value = self.conjunction()
        while self._take("||"):
            value = self.conjunction() or value
        return value

    def conjunction(self) -> bool:
        value = self.comparison()
        while self._take("&&"):
            value = self.comparison() and value
        return value

    def comparison(self) -> bool:
        if self._take("("):
            value = self.disjunction()
            self._expect(")")
            return value
        left = self._string()
        operator = self._next()
        if operator not in ("==", "!="):
            raise UnsupportedManifestFeature(f"{self.where}: when {self.expression!r}: expected == or !=")
        right = self._string()
        return (left == right) if operator == "==" else (left != right)

    def _string(self) -> str:
        token = self._next()
        if not (token.startswith("'") and token.endswith("'") and len(token) >= 2):
            raise UnsupportedManifestFeature(f"{self.where}: when {self.expression!r}: expected a quoted string")
        return token[1:-1].replace("\\'", "'")

    def _take(self, token: str) -> bool:
        if self.position < len(self.tokens) and self.tokens[self.position] == token:
            self.position += 1
            return True
        return False

    def _expect(self, token: str) -> None:
        if not self._take(token):
            raise UnsupportedManifestFeature(f"{self.where}: when {self.expression!r}: expected {token!r}")

    def _next(self) -> str:
        if self.position >= len(self.tokens):
            raise UnsupportedManifestFeature(f"{self.where}: when {self.expression!r}: ends too early")
        self.position += 1
        return self.tokens[self.position - 1]
