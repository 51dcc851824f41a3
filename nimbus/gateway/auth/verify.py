"""``verify``: check a request's signature against the signer's secret, in the target's error style."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

from nimbus.gateway.auth.errors import AuthErrors
from nimbus.gateway.auth.scope import SigningScope
from nimbus.gateway.auth.sigv2 import verify_v2
from nimbus.gateway.auth.sigv4 import verify_header_v4, verify_presigned_v4
from nimbus.protocol.http import HttpRequest
from nimbus.storage.credentials import Credential


def verify(
    request: HttpRequest,
    scope: SigningScope,
    lookup: Callable[[str], Credential | None],
    now: datetime,
    protocol: str,
) -> Credential:
    """Returns the signer, or raises AwsError. ``protocol`` is botocore's protocol name of the target
    ("rest-xml" for S3, "json", "rest-json", "query"). May replace ``request.stream`` (or decode
    ``request.body``) so that the payload is checked as it is read."""
    errors = AuthErrors.for_protocol(protocol)
    credential = lookup(scope.access_key_id)
    if credential is None:
        raise errors.unknown_key(scope.access_key_id)
    now = now.replace(tzinfo=UTC) if now.tzinfo is None else now.astimezone(UTC)
    if scope.method == "header-v4":
        verify_header_v4(request, credential, errors, now)
    elif scope.method == "presigned-v4":
        verify_presigned_v4(request, credential, errors, now)
    elif scope.method in ("header-v2", "presigned-v2"):
        verify_v2(request, credential, errors, now, presigned=scope.method == "presigned-v2")
    else:
        raise ValueError(f"unknown signing method {scope.method!r}")
    return credential
