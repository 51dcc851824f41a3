"""The last API calls this process answered, kept in memory for the console's overview.

``GET /_nimbus/recent-calls[?errors=1][&hide-client=TEXT]`` (signed like any S3 call, with any Nimbus
key, long-term or temporary) answers JSON: the root user sees every call made in the account, anyone
else the calls made as themselves; ``errors=1`` keeps the failed ones, ``hide-client`` leaves out the
calls whose User-Agent contains TEXT (the console hides its own page reads with it). It is what
CloudTrail's LookupEvents would show for the last few minutes, not an audit log: it is lost at
restart.
"""

from __future__ import annotations

import json
import threading
from collections import deque
from dataclasses import asdict, dataclass
from datetime import UTC, datetime

from starlette.types import Receive

from nimbus.errors import AwsError
from nimbus.gateway import auth
from nimbus.gateway.authz.signers import Signers
from nimbus.gateway.body import read_body
from nimbus.protocol.http import HttpRequest, HttpResponse
from nimbus.storage import Storage

RECENT_CALLS = "/_nimbus/recent-calls"
KEPT = 1000
ANSWERED = 100


@dataclass(frozen=True)
class Call:
    time: str  # ISO 8601, UTC
    service: str | None
    operation: str | None
    status: int
    ms: float
    request_id: str
    error: str | None  # the AWS error code of a failed call
    account_id: str  # who signed it (empty for anonymous calls)
    arn: str
    user_agent: str  # which client made it (the console's own calls say "nimbus-console")


class RecentCalls:
    def __init__(self) -> None:
        self._calls: deque[Call] = deque(maxlen=KEPT)
        self._lock = threading.Lock()

    def add(self, call: Call) -> None:
        with self._lock:
            self._calls.append(call)

    def seen_by(self, account_id: str, arn: str, errors_only: bool, hidden_client: str) -> list[Call]:
        """Newest first: the account's calls for its root user, the caller's own for anyone else."""
        root = arn.endswith(":root")
        with self._lock:
            calls = list(self._calls)
        found = [
            call
            for call in reversed(calls)
            if call.account_id == account_id
            and (root or call.arn == arn)
            and (not errors_only or call.status >= 400)
            and not (hidden_client and hidden_client in call.user_agent)
        ]
        return found[:ANSWERED]


def now_text() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


async def recent_calls(
    request: HttpRequest, receive: Receive, storage: Storage, calls: RecentCalls
) -> HttpResponse:
    if request.method != "GET":
        raise AwsError("MethodNotAllowed", f"{RECENT_CALLS} takes GET.", 405)
    request.body = await read_body(receive, 0)
    scope = auth.read_scope(request)
    if scope is None:
        raise AwsError("AccessDenied", "Sign the request with a Nimbus access key (see `nimbus env`).", 403)
    signers = Signers(storage, request, "rest-xml")
    credential = auth.verify(request, scope, signers.lookup, datetime.now(UTC), "rest-xml")
    errors_only = request.query_value("errors") in ("1", "true")
    hidden = request.query_value("hide-client") or ""
    found = calls.seen_by(credential.account_id, credential.arn, errors_only, hidden)
    body = json.dumps({"Calls": [asdict(call) for call in found]}).encode()
    return HttpResponse(200, {"Content-Type": "application/json"}, body)
