"""Temporary credentials (STS): the session travels in its token, signed with a key only this Nimbus
knows, so no session is stored and every session survives a restart until it expires.

A token is ``base64url(claims JSON) "." base64url(HMAC-SHA256)``; the session's access key id is in
the claims and its secret key is derived from the id with the same key, so the holder of a token
can sign requests only with the secret STS handed out together with it.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import secrets
import string
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path
from typing import Any

from nimbus.storage.durable import sync_folder

KEY_FILE = "session-signing.key"
_BASE32 = string.ascii_uppercase + "234567"


class InvalidToken(ValueError):
    """Not a token this Nimbus signed."""


@dataclass(frozen=True)
class SessionClaims:
    """What a session is: who it acts as and what limits it."""

    access_key_id: str
    account_id: str
    arn: str  # arn:aws:sts::111:assumed-role/Role/session, or the user's ARN for GetSessionToken
    user_id: str  # AROA...:session, or the user's id
    issued_at: int  # seconds since the epoch
    expires_at: int
    role_arn: str = ""  # the assumed role's ARN (with its path); empty for GetSessionToken
    session_name: str = ""
    user_name: str = ""  # GetSessionToken: the user (empty for the root user)
    policy: str | None = None  # the inline session policy, as given
    policy_arns: tuple[str, ...] = ()  # managed session policies
    tags: dict[str, str] = field(default_factory=dict)  # session tags (they override the role's)
    source_identity: str = ""

    @property
    def expiration(self) -> datetime:
        return datetime.fromtimestamp(self.expires_at, UTC)

    def expired(self, now: datetime) -> bool:
        return now.timestamp() >= self.expires_at


class SessionTokens:
    def __init__(self, key: bytes) -> None:
        self._key = key

    @classmethod
    def open(cls, data_dir: Path) -> SessionTokens:
        return cls(read_or_create_key(data_dir / KEY_FILE))

    def new_access_key_id(self) -> str:
        return "ASIA" + "".join(secrets.choice(_BASE32) for _ in range(16))

    def secret_for(self, access_key_id: str) -> str:
        digest = hmac.new(self._key, b"secret:" + access_key_id.encode(), hashlib.sha256).digest()
        return base64.b64encode(digest).decode()[:40]

    def issue(self, claims: SessionClaims) -> str:
        payload = _b64(json.dumps(asdict(claims), separators=(",", ":"), sort_keys=True).encode())
        return f"{payload}.{_b64(self._mac(payload))}"

    def read(self, token: str) -> SessionClaims:
        return _read_cached(self, token)

    def sign(self, grant: dict[str, Any]) -> str:
        """A token for any other grant this Nimbus makes (a job's right to its role's credentials)."""
        payload = _b64(json.dumps(grant, separators=(",", ":"), sort_keys=True).encode())
        return f"{payload}.{_b64(self._mac(payload, b'grant:'))}"

    def verify(self, token: str) -> dict[str, Any]:
        payload, dot, mac = token.partition(".")
        try:
            if dot and hmac.compare_digest(_unb64(mac), self._mac(payload, b"grant:")):
                grant: dict[str, Any] = json.loads(_unb64(payload))
                return grant
        except ValueError:
            pass
        raise InvalidToken(token[:16])

    def _mac(self, payload: str, purpose: bytes = b"token:") -> bytes:
        return hmac.new(self._key, purpose + payload.encode(), hashlib.sha256).digest()


@lru_cache(maxsize=4096)
def _read_cached(tokens: SessionTokens, token: str) -> SessionClaims:
    payload, dot, mac = token.partition(".")
    try:
        valid = dot and hmac.compare_digest(_unb64(mac), tokens._mac(payload))
        data: dict[str, Any] = json.loads(_unb64(payload)) if valid else {}
    except ValueError:
        valid = False
    if not valid:
        raise InvalidToken(token[:16])
    return SessionClaims(**{**data, "policy_arns": tuple(data.get("policy_arns", ()))})


def read_or_create_key(path: Path) -> bytes:
    """32 random bytes kept in ``path`` (mode 0600), made by the first process that needs them."""
    if not path.exists():
        temp = path.with_name(f".{path.name}.{secrets.token_hex(6)}")
        fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as file:
            file.write(secrets.token_bytes(32))
            file.flush()
            os.fsync(file.fileno())  # a power cut must not leave an empty key: nothing would start again
        try:
            os.link(temp, path)  # first writer wins; a concurrent opener reads the winner's key
            sync_folder(path.parent)
        except FileExistsError:
            pass
        finally:
            temp.unlink()
    return path.read_bytes()


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
