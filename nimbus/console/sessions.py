"""Console sessions in a sealed cookie: nothing is stored on the server.

Signing in trades the user's key pair for temporary credentials (STS GetSessionToken: an hour for
the root user, twelve for an IAM user), and the cookie carries those, encrypted and authenticated
with a key only this Nimbus holds (``<data dir>/console.key``). The cookie is HttpOnly,
SameSite=Strict and scoped to the console's path, so S3 requests and other sites never see it.
Every form and every script's POST carries the session's CSRF token, which must match the cookie's.
"""

from __future__ import annotations

import base64
import hmac
import json
import secrets
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken

from nimbus.console.api import SignIn
from nimbus.storage.session_tokens import read_or_create_key

COOKIE = "nimbus_console"
KEY_FILE = "console.key"
VIDEO_JOBS_KEPT = 10  # a cookie holds 4 KB at most


@dataclass(frozen=True)
class Session:
    """A browser's session: its CSRF token, and once signed in, whose credentials it holds."""

    csrf: str
    access_key_id: str = ""
    secret_access_key: str = ""
    session_token: str = ""
    expires_at: int = 0  # seconds since the epoch
    arn: str = ""
    account_id: str = ""
    # "kind/job id" of the Rekognition video jobs started from this session, newest first:
    # Rekognition has no API that lists them, so the console remembers the ones it started
    video_jobs: tuple[str, ...] = ()

    @property
    def signed_in(self) -> bool:
        return bool(self.access_key_id) and time.time() < self.expires_at

    @property
    def sign_in(self) -> SignIn:
        return SignIn(self.access_key_id, self.secret_access_key, self.session_token)

    @property
    def is_root(self) -> bool:
        return self.arn.endswith(":root")

    def with_video_job(self, kind: str, job_id: str) -> Session:
        return replace(self, video_jobs=(f"{kind}/{job_id}", *self.video_jobs)[:VIDEO_JOBS_KEPT])

    def csrf_matches(self, token: str) -> bool:
        return bool(token) and hmac.compare_digest(token.encode(), self.csrf.encode())

    def signed_in_as(
        self, sign_in: SignIn, expires_at: int, arn: str, account_id: str
    ) -> Session:  # a new CSRF token with every sign-in
        return replace(
            self,
            csrf=secrets.token_urlsafe(24),
            access_key_id=sign_in.access_key_id,
            secret_access_key=sign_in.secret_access_key,
            session_token=sign_in.session_token,
            expires_at=expires_at,
            arn=arn,
            account_id=account_id,
        )


def new_session() -> Session:
    return Session(csrf=secrets.token_urlsafe(24))


class SessionSeal:
    def __init__(self, data_dir: Path) -> None:
        self._fernet = Fernet(base64.urlsafe_b64encode(read_or_create_key(data_dir / KEY_FILE)))

    def seal(self, session: Session) -> str:
        return self._fernet.encrypt(json.dumps(asdict(session)).encode()).decode()

    def open(self, cookie: str | None) -> Session | None:
        """The session a cookie holds, or None for no cookie, a forged one or another server's."""
        if not cookie:
            return None
        try:
            return Session(**json.loads(self._fernet.decrypt(cookie.encode())))
        except (InvalidToken, ValueError, TypeError):
            return None
