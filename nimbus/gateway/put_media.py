"""PutMedia (Kinesis Video Streams), which no botocore model describes: a chunked MKV body that
streams in while the response streams out, one JSON acknowledgement per line as fragments arrive.

The request is authenticated like any other (SigV4 of its headers, over an empty or unsigned payload);
headers are checked and errors answered before the 200, then a worker thread reads the body through
the ingest session and each acknowledgement is sent as soon as it is made."""

from __future__ import annotations

import json
from contextlib import suppress
from datetime import UTC, datetime

import anyio
from anyio import from_thread
from starlette.types import Receive, Send

from nimbus.errors import AwsError
from nimbus.gateway import auth
from nimbus.gateway.authz.signers import Signers
from nimbus.gateway.body import ThreadBodyStream
from nimbus.protocol.http import HttpRequest
from nimbus.services.kinesisvideo.ingest import PutMediaSession, open_put_media
from nimbus.storage import Storage

PATH = "/putMedia"


def is_put_media(request: HttpRequest) -> bool:
    return request.method == "POST" and request.path == PATH


async def put_media(
    request: HttpRequest, receive: Receive, send: Send, storage: Storage, request_id: str
) -> None:
    """Answers the request itself; raises AwsError (for the gateway to answer) until the 200 is sent."""
    scope = auth.read_scope(request)
    if scope is None:
        raise AwsError("MissingAuthenticationTokenException", "PutMedia must be signed.", 403)
    body = ThreadBodyStream(receive)
    # Producers sign an empty payload (the body is endless); one that declares a payload hash has
    # the body checked against it as it is read.
    request.stream = body if "x-amz-content-sha256" in request.headers else None
    signers = Signers(storage, request, "rest-json")  # long-term keys and STS sessions, as dispatch
    credential = auth.verify(request, scope, signers.lookup, datetime.now(UTC), "rest-json")
    stream = request.stream or body
    headers = {name: request.headers[name] for name in request.headers}
    session = await anyio.to_thread.run_sync(
        open_put_media, storage, credential.account_id, scope.region, headers
    )
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [(b"content-type", b"application/json"), (b"x-amzn-requestid", request_id.encode())],
        }
    )
    try:
        await anyio.to_thread.run_sync(_acknowledge, session, stream.read, send)
    except AwsError:  # the producer went away: nothing left to answer
        pass
    finally:
        with suppress(OSError, RuntimeError):
            await send({"type": "http.response.body", "body": b""})


def _acknowledge(session: PutMediaSession, read: object, send: Send) -> None:
    """In a worker thread: each acknowledgement goes out (through the event loop) as it is made."""
    for ack in session.acknowledgements(read):  # type: ignore[arg-type]
        line = json.dumps(ack, separators=(",", ":")).encode() + b"\n"
        from_thread.run(send, {"type": "http.response.body", "body": line, "more_body": True})
