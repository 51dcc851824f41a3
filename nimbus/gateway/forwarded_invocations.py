"""``POST /_nimbus/sagemaker/invocations``: endpoint invocations another node forwards to this one, the
node serving the endpoint (the protocol and its grant: services/sagemaker_runtime/forwarding.py)."""

from __future__ import annotations

import anyio
from starlette.types import Receive

from nimbus.errors import AwsError
from nimbus.gateway.body import read_body
from nimbus.protocol.http import HttpRequest, HttpResponse
from nimbus.services.sagemaker_runtime.forwarding import (
    FORWARDED_INVOCATIONS,
    GRANT,
    MAX_BODY,
    answer_forwarded,
)
from nimbus.storage import Storage


async def forwarded_invocation(request: HttpRequest, receive: Receive, storage: Storage) -> HttpResponse:
    if request.method != "POST":
        raise AwsError("MethodNotAllowed", f"{FORWARDED_INVOCATIONS} takes POST.", 405)
    body = await read_body(receive, MAX_BODY)
    grant = request.headers.get(GRANT) or ""
    status, headers, answer = await anyio.to_thread.run_sync(answer_forwarded, storage, grant, body)
    return HttpResponse(status, headers, answer)
