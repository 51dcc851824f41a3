"""The reverse proxy in front of notebook instances' Jupyter servers, on Nimbus's own port under
``/_nimbus/notebooks/<region>/<name>/`` (a path no S3 bucket can take): plain HTTP and the websockets
of kernels and terminals.

A presigned URL (``?authToken=``) is exchanged for a session cookie scoped to the instance's path,
then every request must carry the cookie; the proxy adds the Jupyter server's own token, which never
leaves Nimbus. Websockets are accepted only from pages of the same origin (the Origin header's host
is the Host), so another site cannot drive a kernel with a visitor's cookie.
"""

from __future__ import annotations

import contextlib
from http.cookies import CookieError, SimpleCookie
from urllib.parse import parse_qs, urlencode, urlsplit

import anyio
import httpx
from starlette.types import Message, Receive, Scope, Send
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake
from websockets.typing import Subprotocol

from nimbus.gateway.body import read_body
from nimbus.services.sagemaker.notebooks.access import (
    PREFIX,
    SESSION_COOKIE,
    notebook_path,
    session_token,
    verified,
)
from nimbus.services.sagemaker.notebooks.runner import NotebookAccess, notebook_access
from nimbus.storage import Storage

MAX_BODY = 256 * 1024 * 1024  # JupyterLab uploads files in 1 MB chunks; a saved notebook can be large
HOP_BY_HOP = {
    "connection",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
    "authorization",
    "host",
}
WEBSOCKET_HEADERS = {
    "sec-websocket-key",
    "sec-websocket-version",
    "sec-websocket-extensions",
    "sec-websocket-protocol",
}
POLICY_VIOLATION = 1008

_client: httpx.AsyncClient | None = None


def is_notebook_path(path: str) -> bool:
    return path.startswith(PREFIX)


def _client_for_upstream() -> httpx.AsyncClient:
    global _client
    if _client is None:
        _client = httpx.AsyncClient(timeout=httpx.Timeout(None, connect=10.0))
    return _client


def _instance(path: str) -> tuple[str, str] | None:
    region, _, rest = path.removeprefix(PREFIX).partition("/")
    name = rest.split("/", 1)[0]
    return (region, name) if region and name else None


def _headers(scope: Scope) -> list[tuple[str, str]]:
    return [(name.decode("latin-1").lower(), value.decode("latin-1")) for name, value in scope["headers"]]


def _session(headers: list[tuple[str, str]], access: NotebookAccess, region: str, name: str) -> bool:
    cookie = SimpleCookie()
    for header, value in headers:
        if header == "cookie":
            try:
                cookie.load(value)
            except CookieError:
                continue
    morsel = cookie.get(SESSION_COOKIE)
    return morsel is not None and verified(access.secret, morsel.value, "session", region, name) is not None


def _forwarded(headers: list[tuple[str, str]], token: str, skip: set[str]) -> list[tuple[str, str]]:
    """The client's headers for the Jupyter server: without hop-by-hop ones and Nimbus's cookie, with
    the server's token."""
    kept = [(name, value) for name, value in headers if name not in HOP_BY_HOP and name not in skip]
    return [*kept, ("authorization", f"token {token}")]


async def _answer(send: Send, status: int, text: str, headers: list[tuple[str, str]] | None = None) -> None:
    body = text.encode()
    raw = [(b"content-type", b"text/plain; charset=utf-8"), (b"content-length", str(len(body)).encode())]
    raw += [(name.encode("latin-1"), value.encode("latin-1")) for name, value in headers or []]
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": body})


async def proxy_http(scope: Scope, receive: Receive, send: Send, storage: Storage) -> None:
    path = scope["path"]
    found = _instance(path)
    access = await anyio.to_thread.run_sync(notebook_access, storage, *found) if found else None
    if found is None or access is None:
        await _answer(send, 404, "There is no such notebook instance.")
        return
    region, name = found
    query = parse_qs(scope["query_string"].decode("latin-1"), keep_blank_values=True)
    if "authToken" in query:
        await _sign_in(send, access, region, name, path, query)
        return
    headers = _headers(scope)
    if not _session(headers, access, region, name):
        await _answer(
            send, 403, "Open this notebook instance with a URL from CreatePresignedNotebookInstanceUrl."
        )
        return
    if access.server is None:
        await _answer(send, 503, "The notebook instance is not InService: start it and wait for InService.")
        return
    body = await read_body(receive, MAX_BODY)
    target = _upstream_url("http", access.server.port, scope)
    client = _client_for_upstream()
    upstream = client.build_request(
        scope["method"], target, headers=_forwarded(headers, access.server.token, set()), content=body
    )
    try:
        answer = await client.send(upstream, stream=True)
    except httpx.HTTPError:
        await _answer(send, 502, "The notebook instance's Jupyter server did not answer.")
        return
    try:
        raw = [
            (key.encode("latin-1"), value.encode("latin-1"))
            for key, value in answer.headers.multi_items()
            if key.lower() not in HOP_BY_HOP
        ]
        await send({"type": "http.response.start", "status": answer.status_code, "headers": raw})
        async for chunk in answer.aiter_raw():
            await send({"type": "http.response.body", "body": chunk, "more_body": True})
        await send({"type": "http.response.body", "body": b""})
    finally:
        await answer.aclose()


async def _sign_in(
    send: Send, access: NotebookAccess, region: str, name: str, path: str, query: dict[str, list[str]]
) -> None:
    """A presigned URL's token becomes a session cookie; the browser goes on to JupyterLab."""
    claims = verified(access.secret, query["authToken"][0], "url", region, name)
    if claims is None:
        await _answer(send, 403, "This presigned URL is invalid or has expired: create a new one.")
        return
    seconds = int(claims["session"])
    base = notebook_path(region, name)
    cookie = f"{SESSION_COOKIE}={session_token(access.secret, region, name, seconds)}; Path={base}; "
    cookie += f"Max-Age={seconds}; HttpOnly; SameSite=Lax"
    rest = {key: values for key, values in query.items() if key != "authToken"}
    location = (path if path != base else f"{base}lab") + (f"?{urlencode(rest, doseq=True)}" if rest else "")
    await _answer(send, 302, "Signed in.", [("location", location), ("set-cookie", cookie)])


async def proxy_websocket(scope: Scope, receive: Receive, send: Send, storage: Storage) -> None:
    connect_message = await receive()
    assert connect_message["type"] == "websocket.connect"
    found = _instance(scope["path"])
    access = await anyio.to_thread.run_sync(notebook_access, storage, *found) if found else None
    headers = _headers(scope)
    if (
        found is None
        or access is None
        or access.server is None
        or not _session(headers, access, *found)
        or not _same_origin(headers)
    ):
        await send({"type": "websocket.close", "code": POLICY_VIOLATION})
        return
    target = _upstream_url("ws", access.server.port, scope)
    protocols = [Subprotocol(item) for item in scope.get("subprotocols") or []]
    forwarded = _forwarded(headers, access.server.token, WEBSOCKET_HEADERS | {"cookie"})
    try:
        upstream = await connect(
            target,
            additional_headers=forwarded,
            subprotocols=protocols or None,
            max_size=None,
            compression=None,
        )
    except (OSError, InvalidHandshake):
        await send({"type": "websocket.close", "code": POLICY_VIOLATION})
        return
    await send({"type": "websocket.accept", "subprotocol": upstream.subprotocol})
    async with upstream, anyio.create_task_group() as tasks:
        tasks.start_soon(_to_client, upstream, send, tasks.cancel_scope)
        await _to_upstream(receive, upstream)
        tasks.cancel_scope.cancel()


def _upstream_url(scheme: str, port: int, scope: Scope) -> str:
    """The request's path and query, as sent, on the Jupyter server's loopback port."""
    path = (scope.get("raw_path") or scope["path"].encode()).decode("latin-1")
    query = scope["query_string"].decode("latin-1")
    return f"{scheme}://127.0.0.1:{port}{path}" + (f"?{query}" if query else "")


def _same_origin(headers: list[tuple[str, str]]) -> bool:
    values = dict(headers)
    origin = values.get("origin")
    return origin is None or urlsplit(origin).netloc == values.get("host")


async def _to_upstream(receive: Receive, upstream: ClientConnection) -> None:
    while True:
        message: Message = await receive()
        if message["type"] == "websocket.disconnect":
            return
        try:
            if message.get("text") is not None:
                await upstream.send(message["text"])
            elif message.get("bytes") is not None:
                await upstream.send(message["bytes"])
        except ConnectionClosed:
            return


async def _to_client(upstream: ClientConnection, send: Send, scope: anyio.CancelScope) -> None:
    try:
        async for frame in upstream:
            key = "text" if isinstance(frame, str) else "bytes"
            await send({"type": "websocket.send", key: frame})
    except ConnectionClosed:
        pass
    with contextlib.suppress(OSError, RuntimeError):  # the client may have gone first
        await send({"type": "websocket.close", "code": upstream.close_code or 1000})
    scope.cancel()
