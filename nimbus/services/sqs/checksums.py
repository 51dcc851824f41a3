"""The MD5 digests SQS answers with, which SDKs check: of the body, and of the message attributes
(each attribute, sorted by name, as its length-prefixed name, data type, a transport byte and its
length-prefixed value)."""

from __future__ import annotations

import hashlib
import struct
from typing import Any

STRING, BINARY = 1, 2


def md5_of_body(body: str) -> str:
    return hashlib.md5(body.encode()).hexdigest()


def md5_of_attributes(attributes: dict[str, dict[str, Any]]) -> str | None:
    if not attributes:
        return None
    digest = hashlib.md5()
    for name in sorted(attributes):
        value = attributes[name]
        _write(digest, name.encode())
        _write(digest, value["DataType"].encode())
        if "BinaryValue" in value:
            digest.update(bytes([BINARY]))
            _write(digest, value["BinaryValue"])
        else:
            digest.update(bytes([STRING]))
            _write(digest, value["StringValue"].encode())
    return digest.hexdigest()


def _write(digest: Any, data: bytes) -> None:
    digest.update(struct.pack(">I", len(data)))
    digest.update(data)
