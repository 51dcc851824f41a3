"""A platform's call to a channel's webhook, and the answer, as plain values (the gateway turns HTTP
into these and back)."""

from __future__ import annotations

import hmac
from dataclasses import dataclass, field


@dataclass(frozen=True)
class WebhookCall:
    method: str
    url: str  # as the platform called it (Twilio signs it)
    query: dict[str, str]
    headers: dict[str, str]  # names in lower case
    body: bytes
    host: str = ""


@dataclass(frozen=True)
class WebhookAnswer:
    status: int
    body: bytes = b""
    content_type: str = "text/plain; charset=utf-8"
    headers: dict[str, str] = field(default_factory=dict)


def same(given: str, expected: str) -> bool:
    """Whether a signature or token is the expected one, in constant time (any characters)."""
    return hmac.compare_digest(given.encode(), expected.encode())


def refused(status: int, reason: str) -> WebhookAnswer:
    return WebhookAnswer(status, reason.encode())
