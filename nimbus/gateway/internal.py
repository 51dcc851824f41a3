"""Nimbus's own endpoints under ``/_nimbus/`` that act on data: signed like any S3 call (SigV4 with the
caller's Nimbus key), and acting only on the caller's account.

``POST /_nimbus/s3/lifecycle-sweep[?now=<ISO 8601 time>]`` applies the caller's buckets' lifecycle
rules at once, as of ``now`` (default: the present), and answers with JSON counts of what it removed.
A ``now`` in the future shows what the rules will have done by then, without waiting for it.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

import anyio
from starlette.types import Receive

from nimbus.errors import AwsError
from nimbus.gateway import auth
from nimbus.gateway.body import read_body
from nimbus.protocol.http import HttpRequest, HttpResponse
from nimbus.services.s3.lifecycle_sweep import sweep
from nimbus.storage import Storage

LIFECYCLE_SWEEP = "/_nimbus/s3/lifecycle-sweep"
MAX_BODY = 64 * 1024


async def lifecycle_sweep(request: HttpRequest, receive: Receive, storage: Storage) -> HttpResponse:
    if request.method != "POST":
        raise AwsError("MethodNotAllowed", f"{LIFECYCLE_SWEEP} takes POST.", 405)
    request.body = await read_body(receive, MAX_BODY)
    scope = auth.read_scope(request)
    if scope is None:
        raise AwsError("AccessDenied", "Sign the request with a Nimbus access key (see `nimbus env`).", 403)
    credential = auth.verify(request, scope, storage.credentials.lookup, datetime.now(UTC), "rest-xml")
    now = _moment(request.query_value("now"))
    counts = await anyio.to_thread.run_sync(sweep, storage, now, credential.account_id)
    body = json.dumps({"now": now.isoformat(), **counts}).encode()
    return HttpResponse(200, {"Content-Type": "application/json"}, body)


def _moment(text: str | None) -> datetime:
    if text is None:
        return datetime.now(UTC)
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise AwsError("InvalidArgument", f"now must be an ISO 8601 time, not {text!r}.", 400) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
