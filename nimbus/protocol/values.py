"""Scalar values on the wire: timestamps, blobs, booleans and numbers in each protocol's format."""

from __future__ import annotations

import base64
import binascii
import math
from datetime import UTC, datetime
from email.utils import format_datetime, parsedate_to_datetime
from typing import Any

from botocore.model import Shape

ISO8601 = "iso8601"
RFC822 = "rfc822"
UNIX = "unixTimestamp"


def timestamp_format(shape: Shape, default: str) -> str:
    return shape.serialization.get("timestampFormat", default)


def format_timestamp(value: datetime | float | int, fmt: str) -> str | float:
    when = to_datetime(value)
    if fmt == UNIX:
        seconds = when.timestamp()
        return int(seconds) if seconds == int(seconds) else round(seconds, 3)
    if fmt == RFC822:
        return format_datetime(when, usegmt=True)
    text = when.strftime("%Y-%m-%dT%H:%M:%S")
    millis = when.microsecond // 1000
    return f"{text}.{millis:03d}Z"


def to_datetime(value: datetime | float | int) -> datetime:
    if isinstance(value, datetime):
        return value.astimezone(UTC) if value.tzinfo else value.replace(tzinfo=UTC)
    return datetime.fromtimestamp(float(value), UTC)


def parse_timestamp(value: Any, fmt: str, error: type[ValueError] = ValueError) -> datetime:
    """Accepts any of the formats a client may send for a timestamp, preferring ``fmt``."""
    if isinstance(value, bool):
        raise error(f"{value!r} is not a timestamp")
    if isinstance(value, int | float):
        if not math.isfinite(value):
            raise error(f"{value!r} is not a timestamp")
        return datetime.fromtimestamp(float(value), UTC)
    if not isinstance(value, str):
        raise error(f"{value!r} is not a timestamp")
    text = value.strip()
    try:
        return datetime.fromtimestamp(float(text), UTC)
    except ValueError:
        pass
    try:
        when = datetime.fromisoformat(text.replace("Z", "+00:00"))
        return when if when.tzinfo else when.replace(tzinfo=UTC)
    except ValueError:
        pass
    try:
        return parsedate_to_datetime(text).astimezone(UTC)
    except (TypeError, ValueError, IndexError):
        raise error(f"{value!r} is not a timestamp in {fmt} format") from None


def encode_blob(value: bytes | str) -> str:
    data = value.encode() if isinstance(value, str) else value
    return base64.b64encode(data).decode("ascii")


def decode_blob(value: str) -> bytes:
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise ValueError("value is not valid base64") from None


def parse_scalar(shape: Shape, text: str, timestamp_default: str) -> Any:
    """A scalar that arrived as text (header, query string, URI label, XML text)."""
    kind = shape.type_name
    if kind == "string":
        return text
    if kind in ("integer", "long"):
        try:
            return int(text)
        except ValueError:
            raise ValueError(f"'{text}' is not an integer") from None
    if kind in ("float", "double"):
        try:
            return float(text)
        except ValueError:
            raise ValueError(f"'{text}' is not a number") from None
    if kind == "boolean":
        lowered = text.lower()
        if lowered not in ("true", "false"):
            raise ValueError(f"'{text}' is not a boolean (true or false)")
        return lowered == "true"
    if kind == "timestamp":
        return parse_timestamp(text, timestamp_format(shape, timestamp_default))
    if kind == "blob":
        return decode_blob(text)
    raise ValueError(f"a {kind} cannot be given as text")


def format_scalar(shape: Shape, value: Any, timestamp_default: str) -> str:
    """A scalar rendered as text (header, XML text, query output)."""
    kind = shape.type_name
    if kind == "boolean":
        return "true" if value else "false"
    if kind == "timestamp":
        return str(format_timestamp(value, timestamp_format(shape, timestamp_default)))
    if kind == "blob":
        return encode_blob(value)
    if kind in ("float", "double"):
        number = float(value)
        return str(int(number)) if number.is_integer() and abs(number) < 1e15 else repr(number)
    return str(value)
