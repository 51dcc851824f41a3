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
from nimbus.console import CONSOLE_PREFIX
from nimbus.console.app import Console
from nimbus.engines.bubblewrap import trust_certificate_authority
from nimbus.engines.containers.runtime import runtime_problem
from nimbus.errors import AwsError, internal_error
from nimbus.gateway.authz.step import Authorizer
from nimbus.gateway.catalog import Catalog, default_catalog
from nimbus.gateway.cors import add_cors_headers, preflight
from nimbus.gateway.dispatch import Target, dispatch
from nimbus.gateway.forwarded_invocations import forwarded_invocation
from nimbus.gateway.internal import LIFECYCLE_SWEEP, lifecycle_sweep
from nimbus.gateway.labeling_portal import is_labeling_portal, labeling_portal
from nimbus.gateway.lex_channel_admin import is_lex_channel_admin, lex_channel_admin
from nimbus.gateway.lex_channels import channel_webhook, is_channel_webhook
from nimbus.gateway.notebook_proxy import is_notebook_path, proxy_http, proxy_websocket
from nimbus.gateway.post_upload import handle_post_upload, is_post_upload
from nimbus.gateway.prometheus import METRICS_PATH, OperatorMetrics
from nimbus.gateway.put_media import is_put_media, put_media
from nimbus.gateway.recent_calls import RECENT_CALLS, Call, RecentCalls, now_text, recent_calls
from nimbus.gateway.registry.api import registry_request
from nimbus.gateway.sagemaker_extensions import is_sagemaker_extension, sagemaker_extension
from nimbus.gateway.tls import serving_tls
from nimbus.protocol.http import Headers, HttpRequest, HttpResponse
from nimbus.protocol.serializers import serialize_error
from nimbus.services.ecr.address import serve_registry_at
from nimbus.services.kinesisvideo_archived.sessions import PLAYBACK_PATHS, playback
from nimbus.services.sagemaker.containers import container_runtime
from nimbus.services.sagemaker_runtime.forwarding import FORWARDED_INVOCATIONS, advertise
from nimbus.services.sns.signing import CERTIFICATE_PREFIX, signing_certificate
from nimbus.services.sts.role_credentials import CREDENTIALS_PATH, credentials_answer, serve_at
from nimbus.storage import Storage

log = logging.getLogger("nimbus.requests")

# A request refused before its body was read: up to this much is read and dropped to keep the
# connection; beyond it the connection closes (as S3 does) rather than receive gigabytes for nothing.
UNREAD_BODY_DRAIN_LIMIT = 16 * 1024 * 1024
LOGGED = ("service", "operation", "status", "ms", "request_id")  # a request's log line
USER_AGENT_KEPT = 200


class Gateway:
    def __init__(self, settings: Settings, catalog: Catalog | None = None) -> None:
        self.settings = settings
        self.catalog = catalog or default_catalog()
        self.storage: Storage | None = None
        self.authorizer: Authorizer | None = None
        self.recent_calls = RecentCalls()
        self.operator_metrics = OperatorMetrics()
        self.console: Console | None = None
        self.registry_port = settings.resolved_registry_port

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
        elif scope["type"] == "http" and (scope.get("server") or ("", 0))[1] == self.registry_port:
            await self._registry(scope, receive, send)
        elif scope["type"] == "http" and scope["path"].startswith(CONSOLE_PREFIX):
            assert self.console is not None
            await self.console(scope, receive, send)
        elif scope["type"] == "http" and is_notebook_path(scope["path"]):
            assert self.storage is not None
            await proxy_http(scope, receive, send, self.storage)
        elif scope["type"] == "http":
            await self._http(scope, receive, send)
        elif scope["type"] == "websocket":  # only notebook instances' kernels and terminals
            assert self.storage is not None
            await proxy_websocket(scope, receive, send, self.storage)

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                try:
                    self.storage = Storage.open(self.settings.data_dir, self.settings.resolved_database_url)
                    self.operator_metrics.storage = self.storage
                    self.authorizer = Authorizer(
                        self.storage, self.catalog.services, self.settings.authorization
                    )
                    ca_bundle = serving_tls(self.settings.data_dir)  # jobs verify an HTTPS Nimbus with it
                    serve_at(self.settings.endpoint_url, str(ca_bundle or ""))
                    advertise(self.storage, self.settings.node_url, ca_bundle)  # before the hooks settle
                    trust_certificate_authority(ca_bundle)
                    serve_registry_at(self.settings.registry_address, self.settings.tls)
                    self.console = Console(self, self.settings)
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
            health = await anyio.to_thread.run_sync(self._health)
            await _send(send, HttpResponse(200, {"Content-Type": "application/json"}, health))
            return
        if request.path == METRICS_PATH and request.method == "GET":
            await _send(send, await anyio.to_thread.run_sync(self.operator_metrics.answer))
            return
        if request.path == CREDENTIALS_PATH and self.storage is not None:  # jobs' role credentials
            token = request.headers.get("authorization", "")
            status, body = await anyio.to_thread.run_sync(credentials_answer, self.storage, token)
            await _send(send, HttpResponse(status, {"Content-Type": "application/json"}, body))
            return
        if request.path.startswith(CERTIFICATE_PREFIX) and self.storage is not None:  # SNS's SigningCertURL
            pem = await anyio.to_thread.run_sync(signing_certificate, self.storage, request.path)
            if pem is not None:
                await _send(send, HttpResponse(200, {"Content-Type": "application/x-x509-ca-cert"}, pem))
                return
        if request.path in PLAYBACK_PATHS and request.method == "GET" and self.storage is not None:
            # what HLS and DASH players fetch, authorized by the session token in the URL
            query = {name: values[0] for name, values in request.query.items()}
            status, kind, body = await anyio.to_thread.run_sync(playback, self.storage, request.path, query)
            headers = {"Content-Type": kind, "Access-Control-Allow-Origin": "*"}
            await _send(send, HttpResponse(status, headers, body))
            return
        target = Target()
        request_id = _request_id()
        error_code = None
        assert self.storage is not None and self.authorizer is not None
        try:
            if request.method == "OPTIONS":  # a browser's CORS preflight, unsigned
                target.service = self.catalog.services["s3"]
                response = await anyio.to_thread.run_sync(preflight, request, self.storage)
            elif request.path == LIFECYCLE_SWEEP:
                response = await lifecycle_sweep(request, receive, self.storage)
            elif request.path == FORWARDED_INVOCATIONS:  # from another node, with its signed grant
                response = await forwarded_invocation(request, receive, self.storage)
            elif is_channel_webhook(request):  # signed by the messaging platform, not SigV4
                response = await channel_webhook(request, receive, self.storage, self.settings)
            elif request.path == RECENT_CALLS:
                response = await recent_calls(request, receive, self.storage, self.recent_calls)
            elif is_labeling_portal(request):
                target.service = self.catalog.services["sagemaker"]
                response = await labeling_portal(request, receive, self.storage)
            elif is_lex_channel_admin(request):
                target.service = self.catalog.services["lexv2-models"]
                response = await lex_channel_admin(
                    request, receive, self.storage, target.service, self.authorizer
                )
            elif is_sagemaker_extension(request):
                target.service = self.catalog.services["sagemaker"]
                response = await sagemaker_extension(
                    request, receive, self.storage, target.service, self.authorizer
                )
            elif is_post_upload(request):
                target.service = self.catalog.services["s3"]
                response = await handle_post_upload(
                    request, scope, receive, self.catalog, self.storage, request_id, self.authorizer
                )
            elif is_put_media(request):  # answers itself: its response streams while its body does
                target.service = self.catalog.services["kinesisvideo"]
                await put_media(request, receive, send, self.storage, request_id)
                log.info(
                    json.dumps({"service": "kinesisvideo", "operation": "PutMedia", "request_id": request_id})
                )
                return
            else:
                response = await dispatch(
                    request, receive, self.catalog, self.storage, request_id, target, self.authorizer
                )
        except AwsError as error:
            error_code = error.code
            response = self._error_response(error, target, request, request_id)
        except Exception:
            log.exception(
                "unhandled error in %s", target.operation.name if target.operation else request.path
            )
            error_code = "InternalError"
            response = self._error_response(internal_error(), target, request, request_id)
        _add_request_id(response, target, request_id)
        if "origin" in request.headers and (target.service is None or target.service.name == "s3"):
            await anyio.to_thread.run_sync(add_cors_headers, request, response, self.storage)
        if target.body is not None and not await target.body.drain(UNREAD_BODY_DRAIN_LIMIT):
            response.headers["Connection"] = "close"
        try:
            await _send(send, response)
        finally:
            call = Call(
                time=now_text(),
                service=target.service.name if target.service else None,
                operation=target.operation.name if target.operation else None,
                status=response.status,
                ms=round((time.perf_counter() - started) * 1000, 2),
                request_id=request_id,
                error=error_code,
                account_id=target.caller.account_id if target.caller else "",
                arn=target.caller.arn if target.caller else "",
                user_agent=(request.headers.get("user-agent") or "")[:USER_AGENT_KEPT],
            )
            if call.operation is not None:
                self.recent_calls.add(call)
                self.operator_metrics.observe(call.service or "", call.operation, call.status, call.ms / 1000)
            log.info(json.dumps({name: getattr(call, name) for name in LOGGED}))

    async def _registry(self, scope: Scope, receive: Receive, send: Send) -> None:
        """The registry's port: the OCI distribution API (docker/podman push and pull)."""
        started = time.perf_counter()
        request = _http_request(scope)
        assert self.storage is not None and self.authorizer is not None
        try:
            response = await registry_request(
                request, receive, self.storage, self.authorizer, self.catalog.services["ecr"]
            )
        except Exception:
            log.exception("unhandled error in registry %s %s", request.method, request.path)
            response = HttpResponse(500, {"Content-Type": "application/json"}, b'{"errors": []}')
        await _send(send, response)
        ms = round((time.perf_counter() - started) * 1000, 2)
        log.info(
            json.dumps(
                {
                    "service": "registry",
                    "operation": f"{request.method} {request.path}",
                    "status": response.status,
                    "ms": ms,
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
                "containers": self._containers(),
            }
        ).encode()

    def _containers(self) -> str:
        """Whether SageMaker can run the user's images here, and if not why (asked once)."""
        assert self.storage is not None
        problem = runtime_problem(container_runtime(self.storage))
        return problem or "can run (SageMaker runs images of the registry in containers)"


def _http_request(scope: Scope) -> HttpRequest:
    raw_path = scope.get("raw_path") or scope["path"].encode()
    path = raw_path.decode("latin-1").split("?", 1)[0]
    headers = Headers((name.decode("latin-1"), _header_text(value)) for name, value in scope["headers"])
    client = scope.get("client") or ("", 0)
    return HttpRequest(
        scope["method"],
        path,
        scope["query_string"].decode("latin-1"),
        headers,
        client=client[0],
        secure=scope.get("scheme") == "https",
    )


def _header_text(value: bytes) -> str:
    """Clients send non-ASCII header values (user metadata) as UTF-8, which is also what they sign."""
    try:
        return value.decode()
    except UnicodeDecodeError:
        return value.decode("latin-1")


def _header_bytes(value: object) -> bytes:
    """Latin-1 as HTTP clients read it; UTF-8 for what Latin-1 cannot hold (never an exception)."""
    text = str(value)
    try:
        return text.encode("latin-1")
    except UnicodeEncodeError:
        return text.encode()


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
        (_header_bytes(name.lower()), _header_bytes(value)) for name, value in response.headers.items()
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
