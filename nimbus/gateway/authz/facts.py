"""What the gateway knows of a request besides its parsed input, for the condition keys."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from nimbus.gateway.auth import SigningScope
from nimbus.protocol.http import HttpRequest

_TIMESTAMP = "%Y%m%dT%H%M%SZ"


@dataclass(frozen=True)
class RequestFacts:
    http: HttpRequest
    signing_method: str  # "header-v4", "presigned-v4", "header-v2", "presigned-v2", "post"; "" unsigned
    signed_at: datetime | None
    region: str
    now: datetime
    source_ip: str
    secure: bool


def request_facts(
    http: HttpRequest, scope: SigningScope | None, region: str, method: str = ""
) -> RequestFacts:
    stamp = http.headers.get("x-amz-date") or http.query_value("X-Amz-Date") or ""
    try:
        signed_at: datetime | None = datetime.strptime(stamp, _TIMESTAMP).replace(tzinfo=UTC)
    except ValueError:
        signed_at = None
    return RequestFacts(
        http=http,
        signing_method=method or (scope.method if scope else ""),
        signed_at=signed_at,
        region=region,
        now=datetime.now(UTC),
        source_ip=http.client,
        secure=http.secure,
    )
