"""The ASGI application: one port for every service, a request id and a log line per request."""

from __future__ import annotations

import json
import logging
import secrets
import time
import uuid
from collections.abc import Iterable, Iterator
from contextlib import suppress

import anyio
from starlette.types import Receive, Scope, Send

from nimbus import __version__
from nimbus.config import Settings
from nimbus.errors import AwsError, internal_error
from nimbus.gateway.catalog import Catalog, default_catalog
from nimbus.gateway.dispatch import Target, dispatch
from nimbus.gateway.post_upload import handle_post_upload, is_post_upload
from nimbus.protocol.http import Headers, HttpRequest, HttpResponse
from nimbus.protocol.serializers import serialize_error
from nimbus.storage import Storage

log = logging.getLogger("nimbus.requests")

# A request refused before its body was read: up to this much is read and dropped to keep the
# connection; beyond it the connection closes (as S3 does) rather than receive gigabytes for nothing.
UNREAD_BODY_DRAIN_LIMIT = 16 * 1024 * 1024


class Gateway:
    def __init__(self, settings: Settings, catalog: Catalog | None = None) -> None:
        self.settings = settings
        self.catalog = catalog or default_catalog()
        self.storage: Storage | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
        elif scope["type"] == "http":
            await self._http(scope, receive, send)

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                try:
                    self.storage = Storage.open(self.settings.data_dir, self.settings.resolved_database_url)
                    for service in self.catalog.services.values():
                        for hook in service.startup_hooks:
                            hook(self.storage)
                except Exception as error:  # reported to uvicorn, which refuses to start
                    await send({"type": "lifespan.startup.failed", "message": str(error)})
                    return
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                if self.storage is not None:
                    self.storage.close()
                await send({"type": "lifespan.shutdown.complete"})
                return

    async def _http(self, scope: Scope, receive: Receive, send: Send) -> None:
        started = time.perf_counter()
        request = _http_request(scope)
        if request.path == "/_nimbus/health":
            await _send(send, HttpResponse(200, {"Content-Type": "application/json"}, self._health()))
            return
        target = Target()
        request_id = _request_id()
        assert self.storage is not None
        try:
            if is_post_upload(request):
                target.service = self.catalog.services["s3"]
                response = await handle_post_upload(
                    request, scope, receive, self.catalog, self.storage, request_id
                )
            else:
                response = await dispatch(request, receive, self.catalog, self.storage, request_id, target)
        except AwsError as error:
            response = self._error_response(error, target, request, request_id)
        except Exception:
            log.exception(
                "unhandled error in %s", target.operation.name if target.operation else request.path
            )
            response = self._error_response(internal_error(), target, request, request_id)
        _add_request_id(response, target, request_id)
        if target.body is not None and not await target.body.drain(UNREAD_BODY_DRAIN_LIMIT):
            response.headers["Connection"] = "close"
        try:
            await _send(send, response)
        finally:
            log.info(
                json.dumps(
                    {
                        "service": target.service.name if target.service else None,
                        "operation": target.operation.name if target.operation else None,
                        "status": response.status,
                        "ms": round((time.perf_counter() - started) * 1000, 2),
                        "request_id": request_id,
                    }
                )
            )

    def _error_response(
        self, error: AwsError, target: Target, request: HttpRequest, request_id: str
    ) -> HttpResponse:
        service = target.service or self.catalog.services["s3"]
        return serialize_error(service.model, error, request_id, head=request.method == "HEAD")

    def _health(self) -> bytes:
        return json.dumps(
            {
                "status": "running",
                "version": __version__,
                "services": sorted(self.catalog.services),
                "data_dir": str(self.settings.data_dir),
            }
        ).encode()


def _http_request(scope: Scope) -> HttpRequest:
    raw_path = scope.get("raw_path") or scope["path"].encode()
    path = raw_path.decode("latin-1").split("?", 1)[0]
    headers = Headers((name.decode("latin-1"), value.decode("latin-1")) for name, value in scope["headers"])
    return HttpRequest(scope["method"], path, scope["query_string"].decode("latin-1"), headers)


def _request_id() -> str:
    return str(uuid.uuid4())


def _add_request_id(response: HttpResponse, target: Target, request_id: str) -> None:
    if target.service is None or target.service.name == "s3":
        response.headers["x-amz-request-id"] = request_id
        response.headers["x-amz-id-2"] = secrets.token_urlsafe(32)
    else:
        response.headers["x-amzn-RequestId"] = request_id


async def _send(send: Send, response: HttpResponse) -> None:
    headers = [
        (name.lower().encode("latin-1"), str(value).encode("latin-1"))
        for name, value in response.headers.items()
    ]
    body = response.body
    if isinstance(body, bytes):
        if not any(name == b"content-length" for name, _ in headers):
            headers.append((b"content-length", str(len(body)).encode()))
        await send({"type": "http.response.start", "status": response.status, "headers": headers})
        await send({"type": "http.response.body", "body": body})
        return
    await send({"type": "http.response.start", "status": response.status, "headers": headers})
    chunks = iter(body)
    try:
        while (chunk := await anyio.to_thread.run_sync(_next_chunk, chunks)) is not None:
            await send({"type": "http.response.body", "body": chunk, "more_body": True})
        await send({"type": "http.response.body", "body": b""})
    finally:
        with suppress(Exception):
            _close(body)


def _next_chunk(chunks: Iterator[bytes]) -> bytes | None:
    return next(chunks, None)


def _close(body: Iterable[bytes]) -> None:
    close = getattr(body, "close", None)
    if close is not None:
        close()


def create_app(settings: Settings | None = None) -> Gateway:
    return Gateway(settings or Settings())
