"""Validation of a parsed input against its shape, reported as AWS reports it:
``2 validation errors detected: Value '0' at 'maxLabels' failed to satisfy constraint: ...``."""

from __future__ import annotations

import re
from functools import cache
from typing import Any

from botocore.model import Shape

_SIZED = ("string", "blob", "list", "map")
_NUMBERS = ("integer", "long", "float", "double")


def validation_errors(
    shape: Shape, value: dict[str, Any], unchecked_patterns: frozenset[str] = frozenset()
) -> list[str]:
    """``unchecked_patterns`` names shapes whose pattern Nimbus deliberately widens (a Lex code hook
    ARN that may be an http URL): their other constraints still apply."""
    errors: list[str] = []
    _check_structure(shape, value, "", errors, unchecked_patterns)
    return errors


def describe(errors: list[str]) -> str:
    count = len(errors)
    noun = "error" if count == 1 else "errors"
    return f"{count} validation {noun} detected: " + "; ".join(errors)


def _member_path(path: str, name: str) -> str:
    camel = name[:1].lower() + name[1:]
    return f"{path}.{camel}" if path else camel


def _check_structure(
    shape: Shape, value: dict[str, Any], path: str, errors: list[str], unchecked: frozenset[str]
) -> None:
    for name in shape.required_members:
        if value.get(name) is None:
            errors.append(
                f"Value null at '{_member_path(path, name)}' failed to satisfy constraint: "
                "Member must not be null"
            )
    for name, item in value.items():
        member = shape.members.get(name)
        if member is not None and item is not None:
            _check(member, item, _member_path(path, name), errors, unchecked)


def _check(shape: Shape, value: Any, path: str, errors: list[str], unchecked: frozenset[str]) -> None:
    kind = shape.type_name
    if kind == "structure" and isinstance(value, dict):
        _check_structure(shape, value, path, errors, unchecked)
    elif kind == "list" and isinstance(value, list):
        for index, item in enumerate(value):
            _check(shape.member, item, f"{path}.{index + 1}.member", errors, unchecked)
    elif kind == "map" and isinstance(value, dict):
        for key, item in value.items():
            _check(shape.key, key, f"{path}.key", errors, unchecked)
            _check(shape.value, item, f"{path}.{key}", errors, unchecked)
    _check_constraints(shape, value, path, errors, shape.name in unchecked)


def _check_constraints(shape: Shape, value: Any, path: str, errors: list[str], skip_pattern: bool) -> None:
    metadata = shape.metadata
    shown = _show(value)
    enum = metadata.get("enum")
    if enum and not skip_pattern and isinstance(value, str) and value not in enum:
        errors.append(
            f"Value {shown} at '{path}' failed to satisfy constraint: "
            f"Member must satisfy enum value set: [{', '.join(enum)}]"
        )
    if shape.type_name in _SIZED and hasattr(value, "__len__"):
        size = len(value)
        if "min" in metadata and size < metadata["min"]:
            errors.append(
                f"Value {shown} at '{path}' failed to satisfy constraint: "
                f"Member must have length greater than or equal to {metadata['min']}"
            )
        if "max" in metadata and size > metadata["max"]:
            errors.append(
                f"Value {shown} at '{path}' failed to satisfy constraint: "
                f"Member must have length less than or equal to {metadata['max']}"
            )
    if shape.type_name in _NUMBERS and isinstance(value, int | float):
        if "min" in metadata and value < metadata["min"]:
            errors.append(
                f"Value {shown} at '{path}' failed to satisfy constraint: "
                f"Member must have value greater than or equal to {metadata['min']}"
            )
        if "max" in metadata and value > metadata["max"]:
            errors.append(
                f"Value {shown} at '{path}' failed to satisfy constraint: "
                f"Member must have value less than or equal to {metadata['max']}"
            )
    pattern = metadata.get("pattern")
    if pattern and not skip_pattern and isinstance(value, str):
        compiled = _compile(pattern)
        if compiled is not None and not compiled.fullmatch(value):
            errors.append(
                f"Value {shown} at '{path}' failed to satisfy constraint: "
                f"Member must satisfy regular expression pattern: {pattern}"
            )


def _show(value: Any) -> str:
    if isinstance(value, bytes):
        return f"java.nio.HeapByteBuffer[len={len(value)}]"
    if isinstance(value, dict | list):
        return "[...]" if isinstance(value, list) else "{...}"
    text = str(value)
    return f"'{text[:100]}...'" if len(text) > 100 else f"'{text}'"


@cache
def _compile(pattern: str) -> re.Pattern[str] | None:
    # botocore's patterns are Java regexes; the few Python cannot compile are left unchecked.
    try:
        return re.compile(pattern, re.DOTALL)
    except re.error:
        return None
