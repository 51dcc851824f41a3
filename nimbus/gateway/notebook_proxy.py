"""The reverse proxy in front of notebook instances' Jupyter servers, on Nimbus's own port under
``/_nimbus/notebooks/<region>/<name>/`` (a path no S3 bucket can take): plain HTTP and the websockets
of kernels and terminals.

A presigned URL (``?authToken=``) is exchanged for a session cookie scoped to the instance's path,
then every request must carry the cookie; the proxy adds the Jupyter server's own token, which never
leaves Nimbus. Websockets are accepted only from pages of the same origin (the Origin header's host
is the Host), so another site cannot drive a kernel with a visitor's cookie.

With several nodes, a node whose process does not run the instance's server checks the session (and
the Origin) itself, then forwards the request to the node that runs it, with a grant that node trusts
instead (services/sagemaker/notebooks/node_grants.py).
"""

from __future__ import annotations

import contextlib
import ssl
from http.cookies import CookieError, SimpleCookie
from urllib.parse import parse_qs, urlencode, urlsplit

import anyio
import httpx
from starlette.types import Message, Receive, Scope, Send
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake
from websockets.typing import Subprotocol

from nimbus.gateway.body import read_body
from nimbus.gateway.tls import serving_tls
from nimbus.services.sagemaker.notebooks.access import (
    PREFIX,
    SESSION_COOKIE,
    notebook_path,
    session_token,
    verified,
)
from nimbus.services.sagemaker.notebooks.node_grants import GRANT, grant, granted
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

NOT_IN_SERVICE = "The notebook instance is not InService: start it and wait for InService."
# InService, yet no live node runs its server: its node stopped, and a live one takes it over within a lease
MOVING = "The notebook instance's Jupyter server is not reachable; try again in a moment."

_clients: dict[str, httpx.AsyncClient] = {}  # "client": to the servers and nodes


def is_notebook_path(path: str) -> bool:
    return path.startswith(PREFIX)


def _client_for_upstream(storage: Storage) -> httpx.AsyncClient:
    client = _clients.get("client")
    if client is None:
        timeout = httpx.Timeout(None, connect=10.0)
        client = _clients["client"] = httpx.AsyncClient(timeout=timeout, verify=_nodes_tls(storage))
    return client


def _nodes_tls(storage: Storage) -> ssl.SSLContext:
    """What verifies the other nodes' certificates when they serve HTTPS: the system's CAs and this
    Nimbus's own CA (or the certificate the nodes serve)."""
    context = ssl.create_default_context()
    ca_bundle = serving_tls(storage.data_dir)
    if ca_bundle is not None:
        context.load_verify_locations(ca_bundle)
    return context


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


def _node_grant(scope: Scope) -> str | None:
    """The grant of a request another node forwarded (None for a person's request)."""
    return dict(_headers(scope)).get(GRANT)


def _granted_here(storage: Storage, scope: Scope, instance: tuple[str, str], body: bytes) -> bool:
    """Whether the forwarded request carries a node's grant for exactly this request."""
    token = _node_grant(scope) or ""
    return granted(storage, token, instance, scope.get("method", "GET"), _target(scope), body)


def _upstream(
    storage: Storage, access: NotebookAccess, scheme: str, scope: Scope, body: bytes, skip: set[str]
) -> tuple[str, list[tuple[str, str]]] | None:
    """Where the request goes and the client's headers for it (without hop-by-hop ones, ``skip`` and
    any grant): to this process's Jupyter server with its token, or to the node running the server with
    a grant; None when no live node runs it (a forwarded request is forwarded only once)."""
    target = _target(scope)
    kept = [
        (name, value)
        for name, value in _headers(scope)
        if name not in HOP_BY_HOP and name not in skip and name != GRANT
    ]
    if access.server is not None:
        token = access.server.token
        return f"{scheme}://127.0.0.1:{access.server.port}{target}", [
            *kept,
            ("authorization", f"token {token}"),
        ]
    instance = _instance(scope["path"])
    if access.owner is None or instance is None or _node_grant(scope) is not None:
        return None
    node = access.owner.replace("http", scheme, 1)  # http -> ws, https -> wss
    signed = grant(storage, instance, scope.get("method", "GET"), target, body)
    return f"{node}{target}", [*kept, (GRANT, signed)]


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
    from_node = _node_grant(scope) is not None
    if not from_node and not _session(_headers(scope), access, region, name):
        await _answer(
            send, 403, "Open this notebook instance with a URL from CreatePresignedNotebookInstanceUrl."
        )
        return
    body = await read_body(receive, MAX_BODY)
    if from_node and not _granted_here(storage, scope, found, body):
        await _answer(send, 403, "Forwarded notebook requests need a grant of a node of this Nimbus.")
        return
    upstream_at = _upstream(storage, access, "http", scope, body, set())
    if upstream_at is None:
        await _answer(send, 503, MOVING if access.in_service else NOT_IN_SERVICE)
        return
    target, headers = upstream_at
    client = _client_for_upstream(storage)
    upstream = client.build_request(scope["method"], target, headers=headers, content=body)
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
    upstream_at = None
    if found is not None and access is not None:
        if _node_grant(scope) is not None:  # the forwarding node checked the session and the Origin
            allowed = _granted_here(storage, scope, found, b"")
        else:
            allowed = _session(headers, access, *found) and _same_origin(headers)
        if allowed:
            upstream_at = _upstream(storage, access, "ws", scope, b"", WEBSOCKET_HEADERS | {"cookie"})
    if upstream_at is None:
        await send({"type": "websocket.close", "code": POLICY_VIOLATION})
        return
    target, forwarded = upstream_at
    protocols = [Subprotocol(item) for item in scope.get("subprotocols") or []]
    try:
        upstream = await connect(
            target,
            additional_headers=forwarded,
            subprotocols=protocols or None,
            max_size=None,
            compression=None,
            ssl=_nodes_tls(storage) if target.startswith("wss:") else None,
        )
    except (OSError, InvalidHandshake):
        await send({"type": "websocket.close", "code": POLICY_VIOLATION})
        return
    await send({"type": "websocket.accept", "subprotocol": upstream.subprotocol})
    async with upstream, anyio.create_task_group() as tasks:
        tasks.start_soon(_to_client, upstream, send, tasks.cancel_scope)
        await _to_upstream(receive, upstream)
        tasks.cancel_scope.cancel()


def _target(scope: Scope) -> str:
    """The request's path and query, as sent."""
    path = (scope.get("raw_path") or scope["path"].encode()).decode("latin-1")
    query = scope["query_string"].decode("latin-1")
    return path + (f"?{query}" if query else "")


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
