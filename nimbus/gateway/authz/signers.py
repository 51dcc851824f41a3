"""Who may sign: the long-term keys of the credentials file (while Active), and the temporary keys
of STS sessions, which come with their session token (``X-Amz-Security-Token``, a header or a
presigned URL's parameter) and are refused once the session expired."""

from __future__ import annotations

from datetime import UTC, datetime

from nimbus.errors import AwsError
from nimbus.protocol.http import HttpRequest
from nimbus.storage import Storage
from nimbus.storage.credentials import Credential
from nimbus.storage.session_tokens import InvalidToken, SessionClaims

TOKEN_HEADER = "x-amz-security-token"
TOKEN_PARAMETER = "X-Amz-Security-Token"


class Signers:
    """The credential lookup for one request; after it, ``session`` is the STS session if any."""

    def __init__(self, storage: Storage, request: HttpRequest, protocol: str) -> None:
        self._storage = storage
        self._protocol = protocol
        self.token = request.headers.get(TOKEN_HEADER) or request.query_value(TOKEN_PARAMETER) or ""
        self.session: SessionClaims | None = None

    def lookup(self, access_key_id: str) -> Credential | None:
        if not self.token:
            credential = self._storage.credentials.lookup(access_key_id)
            return credential if credential is not None and credential.status == "Active" else None
        try:
            claims = self._storage.sessions.read(self.token)
        except InvalidToken:
            raise self._invalid_token() from None
        if claims.access_key_id != access_key_id:
            raise self._invalid_token()
        if claims.expired(datetime.now(UTC)):
            raise self._expired()
        self.session = claims
        return Credential(
            access_key_id=access_key_id,
            secret_access_key=self._storage.sessions.secret_for(access_key_id),
            account_id=claims.account_id,
            user_name=claims.user_name,
            arn=claims.arn,
            user_id=claims.user_id,
            created_at=datetime.fromtimestamp(claims.issued_at, UTC),
        )

    def _invalid_token(self) -> AwsError:
        if self._protocol == "rest-xml":
            return AwsError("InvalidToken", "The provided token is malformed or otherwise invalid.", 400)
        if self._protocol == "query":
            return AwsError(
                "InvalidClientTokenId", "The security token included in the request is invalid.", 403
            )
        return AwsError(
            "UnrecognizedClientException", "The security token included in the request is invalid.", 400
        )

    def _expired(self) -> AwsError:
        if self._protocol == "rest-xml":
            return AwsError("ExpiredToken", "The provided token has expired.", 400)
        code = "ExpiredToken" if self._protocol == "query" else "ExpiredTokenException"
        return AwsError(
            code,
            "The security token included in the request is expired",
            403 if self._protocol == "query" else 400,
        )
