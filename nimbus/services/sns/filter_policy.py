"""Subscription filter policies: which messages a subscription receives, by their message attributes
or (FilterPolicyScope MessageBody) by the JSON message itself.

A policy maps names to lists of conditions; a message matches when, for every name, its value meets
one of the conditions: an exact string or number, or an operator (prefix, suffix,
equals-ignore-case, anything-but, numeric, exists). Nested objects in a MessageBody policy match
nested keys. Several names are AND, the conditions of one name OR; "$or" lists alternatives."""

from __future__ import annotations

import json
from typing import Any

from nimbus.errors import AwsError

OPERATORS = frozenset({"prefix", "suffix", "equals-ignore-case", "anything-but", "numeric", "exists"})
COMPARISONS = {
    "=": lambda a, b: a == b,
    "<": lambda a, b: a < b,
    "<=": lambda a, b: a <= b,
    ">": lambda a, b: a > b,
    ">=": lambda a, b: a >= b,
}


def invalid_policy(reason: str) -> AwsError:
    return AwsError("InvalidParameter", f"Invalid parameter: FilterPolicy: {reason}", 400)


def parse_policy(text: str) -> dict[str, Any]:
    """The policy, checked; raises InvalidParameter naming what is wrong."""
    try:
        policy = json.loads(text)
    except ValueError:
        raise invalid_policy("the policy is not valid JSON") from None
    if not isinstance(policy, dict):
        raise invalid_policy("the policy must be a JSON object")
    _check(policy)
    return policy


def _check(policy: dict[str, Any]) -> None:
    for name, conditions in policy.items():
        if name == "$or":
            if not isinstance(conditions, list) or len(conditions) < 2:
                raise invalid_policy("$or needs a list of at least two policies")
            for alternative in conditions:
                _check(alternative)
        elif isinstance(conditions, dict):
            _check(conditions)
        elif not isinstance(conditions, list) or not conditions:
            raise invalid_policy(f"the conditions of {name} must be a non-empty list")
        else:
            for condition in conditions:
                if isinstance(condition, dict) and not set(condition) <= OPERATORS:
                    raise invalid_policy(f"unrecognized match type {sorted(set(condition) - OPERATORS)[0]}")


def matches(policy: dict[str, Any], values: dict[str, Any]) -> bool:
    """``values``: the message attributes (name -> value) or the decoded JSON message body."""
    for name, conditions in policy.items():
        if name == "$or":
            if not any(matches(alternative, values) for alternative in conditions):
                return False
        elif isinstance(conditions, dict):
            nested = values.get(name)
            if not isinstance(nested, dict) or not matches(conditions, nested):
                return False
        elif not any(_meets(condition, name in values, values.get(name)) for condition in conditions):
            return False
    return True


def _meets(condition: Any, present: bool, value: Any) -> bool:
    if isinstance(value, list):  # an array value matches when one of its items does
        return any(_meets(condition, present, item) for item in value)
    if not isinstance(condition, dict):
        if not present:
            return False
        if isinstance(condition, int | float) and not isinstance(condition, bool):
            number = _number(value)
            return number is not None and number == condition
        return value == condition
    operator, argument = next(iter(condition.items()))
    if operator == "exists":
        return present == bool(argument)
    if not present:
        return operator == "anything-but"
    return _operator(operator, argument, value)


def _operator(operator: str, argument: Any, value: Any) -> bool:
    text = value if isinstance(value, str) else json.dumps(value)
    if operator == "prefix":
        return text.startswith(argument)
    if operator == "suffix":
        return text.endswith(argument)
    if operator == "equals-ignore-case":
        return text.lower() == str(argument).lower()
    if operator == "anything-but":
        if isinstance(argument, dict):
            return not _operator(*next(iter(argument.items())), value)
        excluded = argument if isinstance(argument, list) else [argument]
        return not any(_meets(item, True, value) for item in excluded)
    number = _number(value)
    if number is None:
        return False
    pairs = list(zip(argument[::2], argument[1::2], strict=False))
    return all(COMPARISONS[op](number, float(limit)) for op, limit in pairs if op in COMPARISONS)


def _number(value: Any) -> float | None:
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def attribute_values(attributes: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """Message attributes as a filter policy sees them: String.Array values are their items."""
    values: dict[str, Any] = {}
    for name, attribute in attributes.items():
        if attribute["DataType"].startswith("Binary"):
            continue
        text = attribute.get("StringValue", "")
        if attribute["DataType"] == "String.Array":
            try:
                values[name] = json.loads(text)
            except ValueError:
                values[name] = text
        else:
            values[name] = text
    return values
