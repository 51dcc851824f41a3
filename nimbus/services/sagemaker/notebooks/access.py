"""How a person reaches a notebook instance: CreatePresignedNotebookInstanceUrl signs a short-lived
token for the instance with the secret of the instance's own access key (deleting the instance
revokes every token); Nimbus's proxy exchanges it for a session cookie that lasts the session's
duration. Both are ``<base64 JSON claims>.<HMAC-SHA256>``."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from typing import Any

PREFIX = "/_nimbus/notebooks/"  # S3 bucket names cannot start with "_": no bucket is shadowed
URL_LIFETIME_S = 300  # a presigned URL opens the instance within five minutes, as on AWS
SESSION_COOKIE = "nimbus-notebook"


def notebook_path(region: str, name: str) -> str:
    """The instance's root under Nimbus's port (its Jupyter server's base URL)."""
    return f"{PREFIX}{region}/{name}/"


def sign(secret: str, claims: dict[str, Any]) -> str:
    payload = base64.urlsafe_b64encode(json.dumps(claims, sort_keys=True).encode()).decode().rstrip("=")
    return f"{payload}.{_mac(secret, payload)}"


def verified(secret: str, token: str, kind: str, region: str, name: str) -> dict[str, Any] | None:
    """The token's claims when it is a valid, unexpired ``kind`` token for this instance; else None."""
    payload, _, mac = token.partition(".")
    if not hmac.compare_digest(mac, _mac(secret, payload)):
        return None
    try:
        claims: dict[str, Any] = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    except ValueError:
        return None
    fresh = claims.get("expires", 0) > time.time()
    mine = claims.get("kind") == kind and claims.get("instance") == [region, name]
    return claims if fresh and mine else None


def url_token(secret: str, region: str, name: str, session_seconds: int) -> str:
    claims = {
        "kind": "url",
        "instance": [region, name],
        "expires": int(time.time()) + URL_LIFETIME_S,
        "session": session_seconds,
    }
    return sign(secret, claims)


def session_token(secret: str, region: str, name: str, session_seconds: int) -> str:
    claims = {"kind": "session", "instance": [region, name], "expires": int(time.time()) + session_seconds}
    return sign(secret, claims)


def _mac(secret: str, payload: str) -> str:
    return hmac.new(secret.encode(), payload.encode(), hashlib.sha256).hexdigest()
