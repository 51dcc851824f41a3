"""Shapes from the query protocol's flat form parameters (``Tags.member.1.Key=...``)."""

from __future__ import annotations

from typing import Any

from botocore.model import Shape

from nimbus.protocol.values import ISO8601, parse_scalar


def from_query(shape: Shape, params: dict[str, str], prefix: str = "") -> Any:
    """Reads the value of ``shape`` found under ``prefix``; None when nothing is there."""
    kind = shape.type_name
    if kind == "structure":
        result: dict[str, Any] = {}
        for name, member in shape.members.items():
            key = member.serialization.get("name", name)
            value = from_query(member, params, f"{prefix}.{key}" if prefix else key)
            if value is not None:
                result[name] = value
        return result or None
    if kind == "list":
        return _list_from_query(shape, params, prefix)
    if kind == "map":
        return _map_from_query(shape, params, prefix)
    if prefix not in params:
        return None
    return parse_scalar(shape, params[prefix], ISO8601)


def _list_from_query(shape: Shape, params: dict[str, str], prefix: str) -> list[Any] | None:
    if shape.serialization.get("flattened"):
        # a flattened list's items take their member's name in place of the list's, where it has one
        member_name = shape.member.serialization.get("name")
        base = prefix if member_name is None else ".".join([*prefix.split(".")[:-1], member_name])
    else:
        base = f"{prefix}.{shape.member.serialization.get('name', 'member')}"
    if params.get(prefix) == "" and not any(key.startswith(f"{base}.") for key in params):
        return []  # an explicitly empty list is sent as "Name="
    items = []
    index = 1
    while (item := from_query(shape.member, params, f"{base}.{index}")) is not None:
        items.append(item)
        index += 1
    return items or None


def _map_from_query(shape: Shape, params: dict[str, str], prefix: str) -> dict[str, Any] | None:
    base = prefix if shape.serialization.get("flattened") else f"{prefix}.entry"
    key_name = shape.key.serialization.get("name", "key")
    value_name = shape.value.serialization.get("name", "value")
    result: dict[str, Any] = {}
    index = 1
    while f"{base}.{index}.{key_name}" in params:
        value = from_query(shape.value, params, f"{base}.{index}.{value_name}")
        result[params[f"{base}.{index}.{key_name}"]] = value
        index += 1
    return result or None
