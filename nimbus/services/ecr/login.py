"""GetAuthorizationToken: the password ``docker login`` takes (user ``AWS``), as ECR hands it out. The
token is a grant this Nimbus signs: it names the caller's access key (and STS session), so a push or
pull with it is authorized as that caller, and it expires after 12 hours (or with the session)."""

from __future__ import annotations

import base64
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from nimbus.errors import AwsError
from nimbus.services.ecr import ecr
from nimbus.services.ecr.address import registry_endpoint
from nimbus.services.registry import RequestContext
from nimbus.storage import Storage
from nimbus.storage.session_tokens import InvalidToken

TOKEN_LIFETIME_S = 12 * 3600
USER = "AWS"
PURPOSE = "ecr-login"


@dataclass(frozen=True)
class RegistryGrant:
    """Who a registry password stands for."""

    access_key_id: str
    session_token: str  # "" for a long-term key
    account_id: str
    region: str


def registry_password(
    storage: Storage, grant: RegistryGrant, lifetime_s: int = TOKEN_LIFETIME_S
) -> tuple[str, int]:
    """(password, its expiry in seconds since the epoch); for a session, no later than the session's."""
    expires = int(time.time()) + lifetime_s
    if grant.session_token:
        expires = min(expires, int(storage.sessions.read(grant.session_token).expiration.timestamp()))
    signed = storage.sessions.sign(
        {
            "purpose": PURPOSE,
            "key": grant.access_key_id,
            "session": grant.session_token,
            "account": grant.account_id,
            "region": grant.region,
            "expires": expires,
        }
    )
    return signed, expires


def read_password(storage: Storage, password: str) -> RegistryGrant | None:
    """The grant a password carries, or None when this Nimbus did not sign it or it expired."""
    try:
        grant = storage.sessions.verify(password)
    except InvalidToken:
        return None
    if grant.get("purpose") != PURPOSE or grant.get("expires", 0) < time.time():
        return None
    return RegistryGrant(grant["key"], grant["session"], grant["account"], grant["region"])


@ecr.operation
def get_authorization_token(ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
    """One token for the caller's registry: ``docker login --username AWS --password <the token's
    decoded text after "AWS:"> <proxyEndpoint>`` (``aws ecr get-login-password`` prints it)."""
    registries = request.get("registryIds") or []
    if any(registry != ctx.caller.account_id for registry in registries):
        raise AwsError(
            "InvalidParameterException",
            "Invalid parameter at 'registryIds': this Nimbus serves only the registry of account "
            f"{ctx.caller.account_id}",
            400,
        )
    grant = RegistryGrant(ctx.caller.access_key_id, ctx.session_token, ctx.caller.account_id, ctx.region)
    password, expires = registry_password(ctx.storage, grant)
    token = base64.b64encode(f"{USER}:{password}".encode()).decode()
    return {
        "authorizationData": [
            {
                "authorizationToken": token,
                "expiresAt": datetime.fromtimestamp(expires, UTC),
                "proxyEndpoint": registry_endpoint(),
            }
        ]
    }
