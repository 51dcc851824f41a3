"""Shapes to and from JSON documents (the json and rest-json protocols' bodies)."""

from __future__ import annotations

from typing import Any

from botocore.model import Shape

from nimbus.protocol.values import (
    UNIX,
    decode_blob,
    encode_blob,
    format_timestamp,
    parse_timestamp,
    timestamp_format,
)

_JSON_TYPES: dict[str, type | tuple[type, ...]] = {
    "string": str,
    "integer": int,
    "long": int,
    "float": (int, float),
    "double": (int, float),
    "boolean": bool,
    "structure": dict,
    "map": dict,
    "list": list,
}


class JsonShapeError(ValueError):
    """A JSON value of the wrong type for its shape; ``path`` names where."""

    def __init__(self, path: str, message: str) -> None:
        super().__init__(f"{message} at '{path}'" if path else message)
        self.path = path


def from_json(shape: Shape, value: Any, path: str = "") -> Any:
    """Converts a decoded JSON value into the Python value of ``shape`` (bytes, datetimes...)."""
    if value is None:
        return None
    kind = shape.type_name
    if kind == "structure":
        _expect(dict, value, shape, path)
        members = shape.members
        return {
            name: from_json(members[name], item, f"{path}.{name}" if path else name)
            for name, item in value.items()
            if name in members and item is not None
        }
    if kind == "list":
        _expect(list, value, shape, path)
        return [from_json(shape.member, item, f"{path}[{i}]") for i, item in enumerate(value)]
    if kind == "map":
        _expect(dict, value, shape, path)
        return {
            from_json(shape.key, key, path): from_json(shape.value, item, f"{path}.{key}")
            for key, item in value.items()
        }
    if kind == "timestamp":
        try:
            return parse_timestamp(value, timestamp_format(shape, UNIX))
        except ValueError as error:
            raise JsonShapeError(path, str(error)) from None
    if kind == "blob":
        if not isinstance(value, str):
            raise JsonShapeError(path, f"Expected a base64 string for {shape.name}")
        try:
            return decode_blob(value)
        except ValueError:
            raise JsonShapeError(path, "Invalid base64 value") from None
    if kind in ("integer", "long") and isinstance(value, float) and value.is_integer():
        return int(value)
    if kind in _JSON_TYPES:
        _expect(_JSON_TYPES[kind], value, shape, path)
        if kind in ("integer", "long", "float", "double") and isinstance(value, bool):
            raise JsonShapeError(path, f"Expected a number for {shape.name}, got a boolean")
        if kind in ("float", "double"):
            return float(value)
    return value


def _expect(expected: type | tuple[type, ...], value: Any, shape: Shape, path: str) -> None:
    if not isinstance(value, expected):
        raise JsonShapeError(path, f"{type(value).__name__} value cannot be converted to {shape.type_name}")


def to_json(shape: Shape, value: Any, timestamp_default: str = UNIX) -> Any:
    """Converts an output value of ``shape`` into JSON-able data; empty optional members are dropped."""
    kind = shape.type_name
    if kind == "structure":
        out: dict[str, Any] = {}
        for name, member in shape.members.items():
            item = value.get(name)
            if item is None or member.serialization.get("location"):
                continue
            converted = to_json(member, item, timestamp_default)
            if converted == {} and member.type_name == "structure":
                continue  # strict clients (SageMaker SDK v3) reject "{}" for an absent optional structure
            out[member.serialization.get("name", name)] = converted
        return out
    if kind == "list":
        return [to_json(shape.member, item, timestamp_default) for item in value]
    if kind == "map":
        return {str(key): to_json(shape.value, item, timestamp_default) for key, item in value.items()}
    if kind == "timestamp":
        return format_timestamp(value, timestamp_format(shape, timestamp_default))
    if kind == "blob":
        return encode_blob(value)
    if kind in ("float", "double"):
        return float(value)
    return value
