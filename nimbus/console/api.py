"""The console's AWS clients: botocore clients signed with the signed-in user's credentials, whose
requests go through Nimbus's own gateway in-process (an ASGI call instead of a socket), so that
every console action is parsed, authenticated, authorized and logged exactly like an API call.

A client's endpoint is the origin the browser used, so the URLs it presigns (downloads, share
links, uploads) are ones the browser can follow; nothing leaves the process to sign or send them.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Iterator
from contextvars import ContextVar
from dataclasses import dataclass
from functools import lru_cache
from typing import Any
from urllib.parse import unquote, urlsplit

import anyio.from_thread
import botocore.session
from botocore.auth import S3SigV4Auth
from botocore.awsrequest import AWSPreparedRequest, AWSRequest, AWSResponse
from botocore.client import BaseClient
from botocore.config import Config
from botocore.credentials import Credentials
from starlette.types import ASGIApp, Message

USER_AGENT = "nimbus-console"
# the browser's address and scheme, for the conditions a policy may put on them (aws:SourceIp,
# aws:SecureTransport): set by the page handler in the worker thread that makes the calls
CALLER_ADDRESS: ContextVar[tuple[str, str]] = ContextVar(
    "console_caller_address", default=("127.0.0.1", "http")
)


@dataclass(frozen=True)
class SignIn:
    """What a client signs with: a key pair, with its session token for temporary credentials."""

    access_key_id: str
    secret_access_key: str
    session_token: str = ""


@dataclass(frozen=True)
class GatewayResponse:
    status: int
    headers: dict[str, str]
    body: bytes


class _Body(io.BytesIO):
    """A response body as botocore reads one from urllib3 (``stream()`` and ``read()``)."""

    def stream(self, amt: int = 64 * 1024, decode_content: bool = True) -> Iterator[bytes]:
        while chunk := self.read(amt):
            yield chunk


class Api:
    """Nimbus's API as the console calls it: clients, and requests sent to the gateway's ASGI app
    from a worker thread of the console."""

    def __init__(self, app: ASGIApp, region: str) -> None:
        self._app = app
        self.region = region
        self._session = botocore.session.get_session()

    def client(self, service: str, sign_in: SignIn, origin: str) -> BaseClient:
        return _client(self, service, sign_in, origin)

    def new_client(self, service: str, sign_in: SignIn, origin: str) -> BaseClient:
        client = self._session.create_client(
            service,
            region_name=self.region,
            endpoint_url=origin,
            aws_access_key_id=sign_in.access_key_id,
            aws_secret_access_key=sign_in.secret_access_key,
            aws_session_token=sign_in.session_token or None,
            config=Config(
                user_agent_extra=USER_AGENT,
                retries={"max_attempts": 1},
                s3={"addressing_style": "path"},
                signature_version="s3v4" if service == "s3" else None,
                # boto3's default for S3 is to add checksums to every upload; the console's answers
                # are read whole, so the default would only cost time
                request_checksum_calculation="when_required",
                response_checksum_validation="when_required",
            ),
        )
        client.meta.events.register("before-send", self._send)
        return client

    def signed(self, method: str, url: str, sign_in: SignIn, body: bytes = b"") -> GatewayResponse:
        """A request to one of Nimbus's own endpoints (``/_nimbus/...``), signed like an S3 call."""
        request = AWSRequest(method=method, url=url, data=body)
        credentials = Credentials(
            sign_in.access_key_id, sign_in.secret_access_key, sign_in.session_token or None
        )
        S3SigV4Auth(credentials, "s3", self.region).add_auth(request)
        return self.send(request.prepare())

    def _send(self, request: AWSPreparedRequest, **_: Any) -> AWSResponse:
        answer = self.send(request)
        return AWSResponse(request.url, answer.status, answer.headers, _Body(answer.body))

    def send(self, request: AWSPreparedRequest) -> GatewayResponse:
        url = urlsplit(request.url)
        body = _bytes(request.body)
        headers = {_text(name).lower(): _text(value) for name, value in request.headers.items()}
        headers.setdefault("host", url.netloc)
        if body:
            headers.setdefault("content-length", str(len(body)))
        client_address, scheme = CALLER_ADDRESS.get()
        scope = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": request.method,
            "scheme": scheme,
            "path": unquote(url.path) or "/",
            "raw_path": (url.path or "/").encode("latin-1"),
            "query_string": url.query.encode("latin-1"),
            "root_path": "",
            "headers": [(name.encode("latin-1"), value.encode()) for name, value in headers.items()],
            "client": (client_address, 0),
            "server": (url.hostname or "", url.port or 0),
        }
        return anyio.from_thread.run(_call, self._app, scope, body)


@lru_cache(maxsize=256)
def _client(api: Api, service: str, sign_in: SignIn, origin: str) -> BaseClient:
    """Clients are thread-safe and take milliseconds to make: one per user, service and origin."""
    return api.new_client(service, sign_in, origin)


async def _call(app: ASGIApp, scope: dict[str, Any], body: bytes) -> GatewayResponse:
    sent = False
    status = 500
    headers: dict[str, str] = {}
    chunks: list[bytes] = []

    async def receive() -> Message:
        nonlocal sent
        if sent:
            return {"type": "http.disconnect"}
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: Message) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]
            headers.update(
                (name.decode("latin-1"), value.decode("latin-1")) for name, value in message["headers"]
            )
        elif message["type"] == "http.response.body":
            chunks.append(message.get("body", b""))

    await app(scope, receive, send)
    return GatewayResponse(status, headers, b"".join(chunks))


def _bytes(body: Any) -> bytes:
    if body is None:
        return b""
    if isinstance(body, bytes):
        return body
    if isinstance(body, str):
        return body.encode()
    if isinstance(body, bytearray):
        return bytes(body)
    read: Callable[[], bytes] = body.read
    return read()


def _text(value: str | bytes) -> str:
    return value.decode() if isinstance(value, bytes) else value
