"""The HMAC primitives of AWS signatures."""

from __future__ import annotations

import hmac
from hashlib import sha256


def signing_key(secret_access_key: str, date: str, region: str, service: str) -> bytes:
    key = hmac_sha256(f"AWS4{secret_access_key}".encode(), date)
    for part in (region, service, "aws4_request"):
        key = hmac_sha256(key, part)
    return key


def hmac_sha256(key: bytes, message: str) -> bytes:
    return hmac.new(key, message.encode(), sha256).digest()


def same_signature(expected: str, provided: str) -> bool:
    """Constant-time, and safe for any text a client sends (compare_digest refuses non-ASCII str)."""
    return hmac.compare_digest(expected.encode(), provided.encode())
