"""Request bodies from ASGI: read whole for ordinary calls, or streamed to a worker thread."""

from __future__ import annotations

from anyio import from_thread
from starlette.types import Message, Receive

from nimbus.errors import AwsError


async def read_body(receive: Receive, limit: int) -> bytes:
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise AwsError(
                "RequestTimeout", "The client closed the connection before sending the whole body."
            )
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise AwsError("RequestEntityTooLarge", f"Request body exceeds the limit of {limit} bytes.", 413)
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)


class ThreadBodyStream:
    """A file-like ``read(n)`` over an ASGI body, for a service running in a worker thread.

    Each call hops to the event loop for the next chunk, so a body of any size streams
    through a bounded buffer."""

    def __init__(self, receive: Receive) -> None:
        self._receive = receive
        self._buffer = bytearray()
        self._done = False

    async def drain(self, limit: int) -> bool:
        """Discards what the service left unread, so the connection can carry the next request.
        False when more than ``limit`` bytes remain: then the connection must close instead."""
        discarded = 0
        self._buffer.clear()
        while not self._done and discarded <= limit:
            message = await self._receive()
            if message["type"] == "http.disconnect":
                return False
            discarded += len(message.get("body", b""))
            self._done = not message.get("more_body", False)
        return self._done

    def read(self, size: int = -1) -> bytes:
        while not self._done and (size < 0 or len(self._buffer) < size):
            message: Message = from_thread.run(self._receive)
            if message["type"] == "http.disconnect":
                raise AwsError(
                    "IncompleteBody", "The client closed the connection before sending the whole body."
                )
            self._buffer += message.get("body", b"")
            self._done = not message.get("more_body", False)
        if size < 0 or size >= len(self._buffer):
            data = bytes(self._buffer)
            self._buffer.clear()
        else:
            data = bytes(self._buffer[:size])
            del self._buffer[:size]
        return data
