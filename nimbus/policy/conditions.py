"""Condition operators: every operator IAM documents, their ``...IfExists`` forms and the
``ForAllValues:``/``ForAnyValue:`` set qualifiers, over the request's context values.

A key the request lacks matches no positive operator and every negated one; ``IfExists`` makes a
missing key a match; ``ForAllValues`` over a missing key is true, ``ForAnyValue`` false (even with
``IfExists``). A multivalued key (a tuple, such as ``aws:TagKeys``) matches only through a set
qualifier: a plain operator on it is false whatever its values.
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
import math
from collections.abc import Callable
from datetime import UTC, datetime
from functools import lru_cache
from typing import TYPE_CHECKING

from nimbus.policy.patterns import Context, Unresolved, arn_match, substitute, wildcard_match

if TYPE_CHECKING:
    from nimbus.policy.grammar import Condition

SET_QUALIFIERS = ("ForAllValues", "ForAnyValue")
# (request value, policy value, variables) -> match, or None where a value is not of the operator's
# type (an IP that is no IP, a date that is no date): such a value matches neither in the positive
# sense nor in the negated one
Comparator = Callable[[str, str, Context | None], bool | None]


def split_operator(operator: str) -> tuple[str | None, str, bool]:
    """``ForAnyValue:StringLikeIfExists`` -> ("ForAnyValue", "StringLike", True)."""
    qualifier, colon, rest = operator.partition(":")
    if not colon:
        qualifier, rest = None, operator
    elif qualifier not in SET_QUALIFIERS:
        return None, operator, False
    if_exists = rest.endswith("IfExists") and rest != "IfExists"
    return qualifier, rest.removesuffix("IfExists") if if_exists else rest, if_exists


def _string_equals(value: str, pattern: str, context: Context | None) -> bool:
    return value == substitute(pattern, context)


def _string_equals_ignore_case(value: str, pattern: str, context: Context | None) -> bool:
    return value.casefold() == substitute(pattern, context).casefold()


def _string_like(value: str, pattern: str, context: Context | None) -> bool:
    return wildcard_match(pattern, value, context)


def _arn_like(value: str, pattern: str, context: Context | None) -> bool:
    return arn_match(pattern, value, context)


@lru_cache(maxsize=4096)
def _number(text: str) -> float | None:
    try:
        number = float(text)
    except ValueError:
        return None
    return number if math.isfinite(number) else None


@lru_cache(maxsize=4096)
def _date(text: str) -> datetime | None:
    """ISO 8601 (with or without time and zone) or seconds since the epoch."""
    if text.lstrip("-").isdigit():
        return datetime.fromtimestamp(int(text), UTC)
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


@lru_cache(maxsize=4096)
def _network(text: str) -> ipaddress.IPv4Network | ipaddress.IPv6Network | None:
    try:
        return ipaddress.ip_network(text.strip(), strict=False)
    except ValueError:
        return None


def _ip_in(value: str, pattern: str, context: Context | None) -> bool | None:
    network = _network(pattern)
    try:
        address = ipaddress.ip_address(value.strip())
    except ValueError:
        return None
    if network is None:
        return None
    return address.version == network.version and address in network


def _bool(value: str, pattern: str, context: Context | None) -> bool:
    return value.lower() == pattern.lower()


def _binary(value: str, pattern: str, context: Context | None) -> bool:
    try:
        return base64.b64decode(value, validate=True) == base64.b64decode(pattern, validate=True)
    except (binascii.Error, ValueError):
        return value == pattern


def _ordered(parse: Callable[[str], object | None], test: Callable[[object, object], bool]) -> Comparator:
    def compare(value: str, pattern: str, context: Context | None) -> bool | None:
        left, right = parse(value), parse(pattern)
        return None if left is None or right is None else test(left, right)

    return compare


_ORDERINGS: dict[str, Callable[[object, object], bool]] = {
    "Equals": lambda a, b: a == b,
    "NotEquals": lambda a, b: a == b,  # negated below
    "LessThan": lambda a, b: a < b,  # type: ignore[operator]
    "LessThanEquals": lambda a, b: a <= b,  # type: ignore[operator]
    "GreaterThan": lambda a, b: a > b,  # type: ignore[operator]
    "GreaterThanEquals": lambda a, b: a >= b,  # type: ignore[operator]
}

# operator -> (comparison of one request value with one policy value, negated?)
OPERATORS: dict[str, tuple[Comparator, bool]] = {
    "StringEquals": (_string_equals, False),
    "StringNotEquals": (_string_equals, True),
    "StringEqualsIgnoreCase": (_string_equals_ignore_case, False),
    "StringNotEqualsIgnoreCase": (_string_equals_ignore_case, True),
    "StringLike": (_string_like, False),
    "StringNotLike": (_string_like, True),
    "Bool": (_bool, False),
    "BinaryEquals": (_binary, False),
    "IpAddress": (_ip_in, False),
    "NotIpAddress": (_ip_in, True),
    "ArnEquals": (_arn_like, False),
    "ArnLike": (_arn_like, False),
    "ArnNotEquals": (_arn_like, True),
    "ArnNotLike": (_arn_like, True),
    "Null": (_bool, False),  # handled apart: it tests presence, not values
    **{
        f"{family}{name}": (_ordered(parse, test), name == "NotEquals")
        for family, parse in (("Numeric", _number), ("Date", _date))
        for name, test in _ORDERINGS.items()
    },
}
_VARIABLE_OPERATORS = frozenset(name for name in OPERATORS if name.startswith(("String", "Arn")))


def condition_matches(condition: Condition, context: Context, variables: bool) -> bool:
    qualifier, base, if_exists = split_operator(condition.operator)
    found = context.get(condition.key)
    if base == "Null":
        return any((value.lower() == "true") != (found is not None) for value in condition.values)
    comparator, negated = OPERATORS[base]
    if found is None:
        if qualifier is not None:
            return qualifier == "ForAllValues"
        return if_exists or negated
    if isinstance(found, tuple) and qualifier is None:
        return False
    request_values = found if isinstance(found, tuple) else (found,)
    substitutions = context if variables and base in _VARIABLE_OPERATORS else None

    def accepted(value: str) -> bool:
        hits = [comparator(value, pattern, substitutions) for pattern in condition.values]
        return all(hit is False for hit in hits) if negated else any(hit is True for hit in hits)

    try:
        if qualifier == "ForAllValues":
            return all(accepted(value) for value in request_values)
        return any(accepted(value) for value in request_values)
    except Unresolved:  # a policy variable the request has no value for: the condition fails
        return False
