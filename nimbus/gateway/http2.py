"""HTTP/2 beside HTTP/1.1 on the same port, for the operations whose clients speak only HTTP/2
(Lex V2's StartConversation: the AWS SDKs open a bidirectional event stream).

``AutoHttpProtocol`` is the uvicorn protocol class: it reads a connection's first bytes, and a
connection that opens with HTTP/2's preface (h2c with prior knowledge, or h2 chosen by ALPN over
TLS, which also begins with the preface) goes to ``Http2Protocol``; anything else goes to uvicorn's
own HTTP/1.1 protocol (httptools), which then owns the transport: HTTP/1.1 requests pay nothing
after their first packet. ``Http2Protocol`` frames with the ``h2`` library and runs the same ASGI
app for each stream, full duplex: the request body arrives while the response goes out.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from contextlib import suppress
from typing import Any, ClassVar, cast
from urllib.parse import unquote

import h2.config
import h2.connection
import h2.errors
import h2.events
import h2.exceptions
from hyperframe.frame import Frame, GoAwayFrame
from uvicorn.config import Config
from uvicorn.protocols.http.auto import AutoHTTPProtocol
from uvicorn.protocols.utils import get_local_addr, get_remote_addr, is_ssl
from uvicorn.server import ServerState

PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
# RFC 9113 8.2.2: connection-specific headers must not appear in HTTP/2 messages
_HOP_BY_HOP = frozenset({b"connection", b"keep-alive", b"proxy-connection", b"transfer-encoding", b"upgrade"})
log = logging.getLogger("uvicorn.error")


class AutoHttpProtocol(asyncio.Protocol):
    """Hands each connection to HTTP/2 or HTTP/1.1 by its first bytes."""

    alpn_protocols: ClassVar[list[str]] = ["h2", "http/1.1"]  # uvicorn offers these over TLS

    def __init__(
        self,
        config: Config,
        server_state: ServerState,
        app_state: dict[str, Any],
        _loop: asyncio.AbstractEventLoop | None = None,
    ) -> None:
        self._arguments = {
            "config": config,
            "server_state": server_state,
            "app_state": app_state,
            "_loop": _loop,
        }
        self._connections = server_state.connections
        self._transport: asyncio.Transport | None = None
        self._received = b""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = cast(asyncio.Transport, transport)  # uvloop's are Transports by duck typing
        self._connections.add(self)

    def data_received(self, data: bytes) -> None:
        self._received += data
        if len(self._received) < len(PREFACE) and PREFACE.startswith(self._received):
            return  # could still be HTTP/2's preface
        protocol_class = Http2Protocol if self._received.startswith(PREFACE) else AutoHTTPProtocol
        protocol: asyncio.Protocol = protocol_class(**self._arguments)  # type: ignore[arg-type]
        assert self._transport is not None
        self._connections.discard(self)
        self._transport.set_protocol(protocol)
        protocol.connection_made(self._transport)
        protocol.data_received(self._received)

    def connection_lost(self, exc: Exception | None) -> None:
        self._connections.discard(self)

    def shutdown(self) -> None:
        if self._transport is not None:
            self._transport.close()


class ServerConnection(h2.connection.H2Connection):
    """h2's connection, but a client's graceful GOAWAY (NO_ERROR) ends only the opening of new streams,
    as RFC 9113 6.8 has it: the open ones go on. (The AWS SDK for JavaScript sends one as soon as an
    event stream's response begins; h2 would take it for the end of the connection.)"""

    def _receive_goaway_frame(self, frame: GoAwayFrame) -> tuple[list[Frame], list[h2.events.Event]]:
        if frame.error_code != h2.errors.ErrorCodes.NO_ERROR or not self.open_inbound_streams:
            return super()._receive_goaway_frame(frame)
        event = h2.events.ConnectionTerminated()
        event.error_code = h2.errors.ErrorCodes.NO_ERROR
        event.last_stream_id = frame.last_stream_id
        event.additional_data = frame.additional_data or None
        return [], [event]


class Http2Protocol(asyncio.Protocol):
    def __init__(
        self,
        config: Config,
        server_state: ServerState,
        app_state: dict[str, Any],
        _loop: asyncio.AbstractEventLoop | None = None,
    ) -> None:
        self.config = config
        self.server_state = server_state
        self.app_state = app_state
        self.h2 = ServerConnection(h2.config.H2Configuration(client_side=False, header_encoding=None))
        self.streams: dict[int, Http2Stream] = {}
        self.transport: asyncio.Transport | None = None
        self.writable = asyncio.Event()
        self.writable.set()
        self.closing = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)
        self.server_state.connections.add(self)
        self.h2.initiate_connection()
        self.flush()

    def data_received(self, data: bytes) -> None:
        try:
            events = self.h2.receive_data(data)
        except h2.exceptions.ProtocolError as error:
            log.info("HTTP/2 connection closed: %s", error)
            self.flush()  # h2 queued a GOAWAY saying why
            assert self.transport is not None
            self.transport.close()
            return
        for event in events:
            self._handle(event)
        self.flush()

    def _handle(self, event: h2.events.Event) -> None:
        if isinstance(event, h2.events.RequestReceived):
            self._start(event.stream_id, event.headers or [])
            return
        if isinstance(event, h2.events.WindowUpdated):
            for stream in self.streams.values():
                stream.wake()
            return
        if isinstance(event, h2.events.ConnectionTerminated):
            self._goaway(event)
            return
        stream = self.streams.get(getattr(event, "stream_id", 0) or 0)
        if isinstance(event, h2.events.DataReceived):
            if stream is None:  # a stream the app has finished with: its window is still the connection's
                self.h2.acknowledge_received_data(event.flow_controlled_length, event.stream_id)
            else:
                stream.body_received(event.data or b"", event.flow_controlled_length)
        elif isinstance(event, h2.events.StreamEnded) and stream is not None:
            stream.body_ended()
        elif isinstance(event, h2.events.StreamReset) and stream is not None:
            stream.disconnect()

    def _goaway(self, event: h2.events.ConnectionTerminated) -> None:
        self.closing = True
        if event.error_code != h2.errors.ErrorCodes.NO_ERROR or not self.streams:
            assert self.transport is not None
            self.transport.close()

    def _start(self, stream_id: int, headers: list[tuple[bytes, bytes]]) -> None:
        pseudo = {name: value for name, value in headers if name.startswith(b":")}
        regular = [(name, value) for name, value in headers if not name.startswith(b":")]
        if not any(name == b"host" for name, _ in regular) and b":authority" in pseudo:
            regular.insert(0, (b"host", pseudo[b":authority"]))
        raw_path, _, query = pseudo.get(b":path", b"/").partition(b"?")
        scope = {
            "type": "http",
            "asgi": {"version": self.config.asgi_version, "spec_version": "2.4"},
            "http_version": "2",
            "server": get_local_addr(self.transport),
            "client": get_remote_addr(self.transport),
            "scheme": "https" if is_ssl(self.transport) else "http",
            "method": pseudo.get(b":method", b"GET").decode("ascii"),
            "root_path": self.config.root_path,
            "path": unquote(raw_path.decode("ascii")),
            "raw_path": raw_path,
            "query_string": query,
            "headers": regular,
            "state": self.app_state.copy(),
        }
        stream = self.streams[stream_id] = Http2Stream(self, stream_id)
        task = asyncio.get_running_loop().create_task(stream.run(scope))
        self.server_state.tasks.add(task)
        task.add_done_callback(self.server_state.tasks.discard)

    def flush(self) -> None:
        data = self.h2.data_to_send()
        if data and self.transport is not None and not self.transport.is_closing():
            self.transport.write(data)

    def finished(self, stream_id: int) -> None:
        self.streams.pop(stream_id, None)
        if self.closing and not self.streams and self.transport is not None:
            self.transport.close()

    def connection_lost(self, exc: Exception | None) -> None:
        self.server_state.connections.discard(self)
        self.writable.set()
        for stream in list(self.streams.values()):
            stream.disconnect()

    def pause_writing(self) -> None:
        self.writable.clear()

    def resume_writing(self) -> None:
        self.writable.set()

    def shutdown(self) -> None:
        """uvicorn's graceful shutdown: GOAWAY, then close once the open streams are answered."""
        self.closing = True
        self.h2.close_connection()
        self.flush()
        self.finished(0)


class Http2Stream:
    """One request and its response: the ASGI ``receive`` and ``send`` of one stream."""

    def __init__(self, connection: Http2Protocol, stream_id: int) -> None:
        self.connection = connection
        self.h2 = connection.h2
        self.stream_id = stream_id
        self.body: deque[tuple[bytes, int]] = deque()
        self.body_complete = False  # the client ended its side
        self.body_delivered = False  # the app has been given the end of the body
        self.disconnected = False
        self.response_started = False
        self.response_complete = False
        self.changed = asyncio.Event()  # data, the end of the body, window space or a disconnect

    def wake(self) -> None:
        self.changed.set()

    def body_received(self, data: bytes, flow_controlled_length: int) -> None:
        self.body.append((data, flow_controlled_length))
        self.wake()

    def body_ended(self) -> None:
        self.body_complete = True
        self.wake()

    def disconnect(self) -> None:
        self.disconnected = True
        self.wake()

    async def run(self, scope: dict[str, Any]) -> None:
        try:
            await self.connection.config.loaded_app(scope, self.receive, self.send)
        except BaseException:
            log.exception("Exception in ASGI application (HTTP/2)")
            if not self.response_started and not self.disconnected:
                await self.send({"type": "http.response.start", "status": 500, "headers": []})
                await self.send({"type": "http.response.body", "body": b"Internal Server Error"})
        finally:
            self._close()

    def _close(self) -> None:
        """A response that never finished is reset; so is a request body the app left unread."""
        if not self.disconnected and (not self.response_complete or not self.body_complete):
            code = (
                h2.errors.ErrorCodes.NO_ERROR
                if self.response_complete
                else h2.errors.ErrorCodes.INTERNAL_ERROR
            )
            with suppress(h2.exceptions.StreamClosedError):  # the client closed it first
                self.h2.reset_stream(self.stream_id, code)
        unread = sum(length for _, length in self.body)
        if unread:
            self.h2.acknowledge_received_data(unread, self.stream_id)
        self.body.clear()
        self.disconnect()  # a reader still waiting for the body hears that it will not come
        self.connection.flush()
        self.connection.finished(self.stream_id)

    async def receive(self) -> dict[str, Any]:
        while not self.body and (self.body_delivered or not self.body_complete):
            if self.disconnected or (self.body_delivered and self.response_complete):
                return {"type": "http.disconnect"}
            self.changed.clear()
            await self.changed.wait()
        if self.body:
            data, length = self.body.popleft()
            self._acknowledge(length)
            more = bool(self.body) or not self.body_complete
        else:
            data, more = b"", False
        self.body_delivered = not more
        return {"type": "http.request", "body": data, "more_body": more}

    def _acknowledge(self, length: int) -> None:
        """Opens the flow-control window again as the app reads (so a slow reader slows the client)."""
        try:
            self.h2.acknowledge_received_data(length, self.stream_id)
        except h2.exceptions.StreamClosedError:
            return
        self.connection.flush()

    async def send(self, message: dict[str, Any]) -> None:
        if self.disconnected:
            return
        try:
            if message["type"] == "http.response.start":
                self._send_headers(message)
            elif message["type"] == "http.response.body":
                await self._send_body(message.get("body", b""), message.get("more_body", False))
        except h2.exceptions.StreamClosedError:
            self.disconnect()

    def _send_headers(self, message: dict[str, Any]) -> None:
        headers = [(b":status", str(message["status"]).encode())]
        headers += self.connection.server_state.default_headers
        headers += [
            (name.lower(), value)
            for name, value in message.get("headers", [])
            if name.lower() not in _HOP_BY_HOP
        ]
        self.h2.send_headers(self.stream_id, headers)
        self.connection.flush()
        self.response_started = True

    async def _send_body(self, data: bytes, more: bool) -> None:
        view = memoryview(data)
        while view and not self.disconnected:
            await self.connection.writable.wait()
            window = min(self.h2.local_flow_control_window(self.stream_id), self.h2.max_outbound_frame_size)
            if window <= 0:
                self.changed.clear()
                await self.changed.wait()
                continue
            self.h2.send_data(self.stream_id, bytes(view[:window]))
            self.connection.flush()
            view = view[window:]
        if not more and not self.disconnected:
            self.h2.end_stream(self.stream_id)
            self.connection.flush()
            self.response_complete = True
            self.wake()
