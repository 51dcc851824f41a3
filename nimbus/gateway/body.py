"""Request bodies from ASGI: read whole for ordinary calls, or streamed to a worker thread."""

from __future__ import annotations

from collections import deque

from anyio import from_thread
from anyio.lowlevel import current_token
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

    A read hops to the event loop once and gathers messages there until it has ``n`` bytes, so a
    body of any size streams through a bounded buffer at one thread hop per read."""

    def __init__(self, receive: Receive) -> None:
        self._receive = receive
        self._loop = current_token()  # so that any thread may read, not only anyio's workers
        self._chunks: deque[bytes] = deque()
        self._buffered = 0
        self._done = False

    async def drain(self, limit: int) -> bool:
        """Discards what the service left unread, so the connection can carry the next request.
        False when more than ``limit`` bytes remain: then the connection must close instead."""
        discarded = 0
        self._chunks.clear()
        self._buffered = 0
        while not self._done and discarded <= limit:
            message = await self._receive()
            if message["type"] == "http.disconnect":
                return False
            discarded += len(message.get("body", b""))
            self._done = not message.get("more_body", False)
        return self._done

    def read(self, size: int = -1) -> bytes:
        if not self._done and (size < 0 or self._buffered < size):
            from_thread.run(self._gather, size, token=self._loop)
        taken: list[bytes] = []
        wanted = self._buffered if size < 0 else min(size, self._buffered)
        while wanted:  # whole messages where they fit: only the last one taken is split
            chunk = self._chunks.popleft()
            if len(chunk) > wanted:
                self._chunks.appendleft(chunk[wanted:])
                chunk = chunk[:wanted]
            taken.append(chunk)
            wanted -= len(chunk)
        data = b"".join(taken)
        self._buffered -= len(data)
        return data

    async def _gather(self, size: int) -> None:
        while not self._done and (size < 0 or self._buffered < size):
            message: Message = await self._receive()
            if message["type"] == "http.disconnect":
                raise AwsError(
                    "IncompleteBody", "The client closed the connection before sending the whole body."
                )
            chunk = message.get("body", b"")
            if chunk:
                self._chunks.append(chunk)
                self._buffered += len(chunk)
            self._done = not message.get("more_body", False)
