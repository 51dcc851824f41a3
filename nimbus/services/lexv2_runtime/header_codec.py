"""RecognizeUtterance and PutSession carry structures in headers as gzip-compressed, base64-encoded
text (botocore leaves that to the caller: the members are plain strings in its model)."""

from __future__ import annotations

import base64
import binascii
import gzip
import json
import zlib
from typing import Any

from botocore.model import Shape

from nimbus.protocol.json_codec import JsonShapeError, from_json
from nimbus.protocol.validate import describe, validation_errors
from nimbus.services.lexv2_runtime.errors import validation


def encode_text(text: str) -> str:
    return base64.b64encode(gzip.compress(text.encode("utf-8"))).decode("ascii")


def encode_json(value: Any) -> str:
    return encode_text(json.dumps(value, separators=(",", ":"), ensure_ascii=False))


def decode_json(header: str, name: str, shape: Shape) -> Any:
    """A gzip+base64 JSON header read as ``shape``; ValidationException when it is not one."""
    try:
        document = json.loads(gzip.decompress(base64.b64decode(header, validate=True)))
    except (binascii.Error, OSError, EOFError, zlib.error, UnicodeDecodeError, json.JSONDecodeError):
        raise validation(f"{name} must be gzip-compressed, base64-encoded JSON.") from None
    try:
        value = from_json(shape, document, name)
    except JsonShapeError as error:
        raise validation(f"Invalid {name}: {error}") from None
    errors = validation_errors(shape, value) if shape.type_name == "structure" else []
    if errors:
        raise validation(describe(errors))
    return value
