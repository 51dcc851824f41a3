"""Lex V2's condition expressions, as conditional branches and composite slot expressions use them.

A comparison's left side is a reference: ``{Slot}`` (its interpreted value; a multi-value slot's
values joined by commas), ``[sessionAttribute]``, ``((requestAttribute))``, ``$.inputMode`` or
``$.inputTranscript``; its right side a constant (``"text"`` or a number). Operators: ``=``, ``!=``,
``<``, ``<=``, ``>``, ``>=`` (numbers as numbers, ISO dates and times in time order, text
case-insensitively), ``CONTAINS`` (a multi-value slot holds the value); ``AND``/``&&``,
``OR``/``||``, ``NOT``/``!`` and parentheses; the functions ``EXISTS(ref)``, ``ISEMPTY(ref)``,
``LENGTH(ref)`` and ``COUNT(ref)`` (values of a multi-value slot). A comparison whose reference is not
set is false, as Lex leaves it unevaluated. A bare name (``Make AND Model``, a composite slot's
expression) is true when that name is set.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Callable
from dataclasses import dataclass

_TOKEN = re.compile(
    r"\s*(?:(?P<ref>\{[^{}]+\}|\[[^\[\]]+\]|\(\([^()]+\)\)|\$\.\w+)|(?P<string>\"[^\"]*\"|'[^']*')"
    r"|(?P<number>-?\d+(?:\.\d+)?)|(?P<op>&&|\|\||!=|<=|>=|=|<|>|!|\(|\))"
    r"|(?P<word>[A-Za-z_][\w.-]*))"
)
_COMPARISONS = frozenset({"=", "!=", "<", "<=", ">", ">=", "CONTAINS"})
_FUNCTIONS = frozenset({"EXISTS", "ISEMPTY", "LENGTH", "COUNT"})

# a reference ("{Slot}", "[attr]", "$.inputMode", or a bare name) -> its values; [] when not set
Resolver = Callable[[str], list[str]]


class ExpressionError(ValueError):
    """The expression is not one Lex accepts."""


@dataclass
class _Parser:
    tokens: list[tuple[str, str]]
    resolve: Resolver
    position: int = 0

    def peek(self) -> tuple[str, str] | None:
        return self.tokens[self.position] if self.position < len(self.tokens) else None

    def take(self) -> tuple[str, str]:
        token = self.peek()
        if token is None:
            raise ExpressionError("the expression ends too early")
        self.position += 1
        return token

    def keyword(self, *words: str) -> bool:
        token = self.peek()
        if token is not None and token[1].upper() in words:
            self.position += 1
            return True
        return False

    def disjunction(self) -> bool:
        value = self.conjunction()
        while self.keyword("OR", "||"):
            value = self.conjunction() or value
        return value

    def conjunction(self) -> bool:
        value = self.negation()
        while self.keyword("AND", "&&"):
            value = self.negation() and value
        return value

    def negation(self) -> bool:
        if self.keyword("NOT", "!"):
            return not self.negation()
        return self.primary()

    def primary(self) -> bool:
        kind, text = self.take()
        if text == "(":
            value = self.disjunction()
            self._expect(")")
            return value
        if kind == "word" and text.upper() in _FUNCTIONS:
            self._expect("(")
            argument = self.take()[1]
            self._expect(")")
            return self._function(text.upper(), self.resolve(argument))
        if kind not in ("ref", "word"):
            raise ExpressionError(f"expected a reference, not {text!r}")
        values = self.resolve(text)
        token = self.peek()
        if token is None or token[1].upper() not in _COMPARISONS:
            return bool(values)
        operator = self.take()[1].upper()
        constant = _constant(self.take())
        return bool(values) and _compare(values, operator, constant)

    def _function(self, name: str, values: list[str]) -> bool:
        if name == "EXISTS":
            return bool(values)
        if name == "ISEMPTY":
            return not values or values == [""]
        measure = len(values) if name == "COUNT" else len(",".join(values))
        token = self.peek()
        if token is None or token[1] not in _COMPARISONS:
            return measure > 0
        operator = self.take()[1]
        return _compare([str(measure)], operator, _constant(self.take()))

    def _expect(self, text: str) -> None:
        if self.take()[1] != text:
            raise ExpressionError(f"expected {text!r}")


def _constant(token: tuple[str, str]) -> str:
    kind, text = token
    if kind == "string":
        return text[1:-1]
    if kind == "number":
        return text
    raise ExpressionError(f"expected a constant, not {text!r}")


def _compare(values: list[str], operator: str, constant: str) -> bool:
    if operator == "CONTAINS":
        return constant.lower() in (value.lower() for value in values)
    left: float | str = ",".join(values).lower()
    right: float | str = constant.lower()
    with contextlib.suppress(ValueError):
        left, right = float(left), float(right)
    return {
        "=": left == right,
        "!=": left != right,
        "<": left < right,  # type: ignore[operator]
        "<=": left <= right,  # type: ignore[operator]
        ">": left > right,  # type: ignore[operator]
        ">=": left >= right,  # type: ignore[operator]
    }[operator]


def tokens(expression: str) -> list[tuple[str, str]]:
    found = []
    position = 0
    while position < len(expression.rstrip()):
        match = _TOKEN.match(expression, position)
        if match is None or match.end() == position:
            raise ExpressionError(f"cannot read the expression at {expression[position:]!r}")
        kind = match.lastgroup or ""
        text = match.group(kind)
        found.append((kind, "CONTAINS" if text.upper() == "CONTAINS" else text))
        position = match.end()
    return found


def evaluate(expression: str, resolve: Resolver) -> bool:
    """Whether ``expression`` holds; ExpressionError when it cannot be read."""
    parser = _Parser(tokens(expression), resolve)
    value = parser.disjunction()
    if parser.peek() is not None:
        raise ExpressionError(f"unexpected {parser.peek()[1]!r}")  # type: ignore[index]
    return value
