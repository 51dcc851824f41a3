"""IAM's wildcards (``*`` any run of characters, ``?`` one character), ARN matching, and policy
variables (``${aws:username}``, ``${aws:PrincipalTag/team, 'none'}``, ``${*}``), which stand for the
request's context values and are matched literally."""

from __future__ import annotations

import re
from collections.abc import Mapping
from functools import lru_cache

Context = Mapping[str, str | tuple[str, ...]]  # lower-case key -> one value or a set of values

_VARIABLE = re.compile(r"\$\{([^}]*)\}")
_LITERAL_VARIABLES = {"*": "*", "?": "?", "$": "$"}
_DEFAULT = re.compile(r"^\s*([^,]+?)\s*,\s*'([^']*)'\s*$")


class Unresolved(Exception):
    """A policy variable whose key the request does not have (and no default): the statement that
    holds it does not apply."""


def resolve(text: str, context: Context | None) -> list[tuple[str, bool]]:
    """Splits ``text`` into (piece, is_literal) parts: policy variables become literal pieces."""
    if context is None or "${" not in text:
        return [(text, False)]
    parts: list[tuple[str, bool]] = []
    position = 0
    for match in _VARIABLE.finditer(text):
        parts.append((text[position : match.start()], False))
        parts.append((_variable_value(match.group(1), context), True))
        position = match.end()
    parts.append((text[position:], False))
    return parts


def _variable_value(expression: str, context: Context) -> str:
    if expression in _LITERAL_VARIABLES:
        return _LITERAL_VARIABLES[expression]
    default = _DEFAULT.match(expression)
    key, fallback = (default.group(1), default.group(2)) if default else (expression.strip(), None)
    value = context.get(key.lower())
    if isinstance(value, str):
        return value
    if fallback is not None:
        return fallback
    raise Unresolved(key)


def substitute(text: str, context: Context | None) -> str:
    """The text with its variables replaced (StringEquals and friends compare it as it is)."""
    return "".join(piece for piece, _ in resolve(text, context))


@lru_cache(maxsize=65536)
def _compiled(parts: tuple[tuple[str, bool], ...], ignore_case: bool) -> re.Pattern[str]:
    regex = []
    for piece, literal in parts:
        if literal:
            regex.append(re.escape(piece))
        else:
            regex.append("".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in piece))
    return re.compile("".join(regex), (re.IGNORECASE if ignore_case else 0) | re.DOTALL)


def wildcard_match(
    pattern: str, value: str, context: Context | None = None, ignore_case: bool = False
) -> bool:
    """Whether ``value`` matches ``pattern`` as a whole; raises Unresolved for a variable the
    context has no value for."""
    if pattern == "*":
        return True
    return _compiled(tuple(resolve(pattern, context)), ignore_case).fullmatch(value) is not None


def arn_match(pattern: str, arn: str, context: Context | None = None, *, expand_short: bool = True) -> bool:
    """ARNs match part by part (partition, service, region, account, resource): a wildcard in one
    part never reaches into another; the resource part holds everything after the fifth colon.
    A pattern with fewer parts (``arn:aws:s3:*``) stands for ``*`` in the parts it leaves out, except
    where ``expand_short`` is false (resource policies) and the pattern has no wildcard."""
    if pattern == "*":
        return True
    pattern_parts = pattern.split(":", 5)
    arn_parts = arn.split(":", 5)
    if len(arn_parts) != 6:
        return False
    if len(pattern_parts) < 6:
        if not expand_short and "*" not in pattern and "?" not in pattern:
            return False
        pattern_parts += ["*"] * (6 - len(pattern_parts))
    return all(wildcard_match(p, a, context) for p, a in zip(pattern_parts, arn_parts, strict=True))
