"""AWS event streams (``application/vnd.amazon.eventstream``): the binary message framing and the
events of botocore's ``eventstream`` shapes.

A message is a prelude (total length, headers length, CRC32 of those 8 bytes), typed headers, a
payload and a CRC32 of everything before it. botocore's ``EventStreamBuffer`` parses and checks
messages; this module adds the encoder, which botocore (a client) never needed. An event travels as
``:message-type: event`` with its member name in ``:event-type`` and its structure as JSON; an error
as ``:message-type: exception`` with the error code in ``:exception-type``. (Members marked
``eventheader``/``eventpayload``, as in Transcribe, are not used by the operations served so far.)
"""

from __future__ import annotations

import json
import struct
from binascii import crc32
from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Any

from botocore.eventstream import EventStreamBuffer, EventStreamMessage, ParserError
from botocore.model import Shape

from nimbus.errors import AwsError
from nimbus.protocol.json_codec import JsonShapeError, from_json, to_json
from nimbus.protocol.validate import describe, validation_errors

CONTENT_TYPE = "application/vnd.amazon.eventstream"
PRELUDE_LENGTH = 12
MAX_MESSAGE = 16 * 1024 * 1024 + 128 * 1024  # botocore's limits: 16 MiB payload, 128 KiB headers
HeaderValue = str | bytes | datetime
_BYTES, _STRING, _TIMESTAMP = 6, 7, 8  # header value types


def encode_message(headers: dict[str, HeaderValue], payload: bytes) -> bytes:
    encoded_headers = encode_headers(headers)
    lengths = struct.pack(
        ">II", PRELUDE_LENGTH + len(encoded_headers) + len(payload) + 4, len(encoded_headers)
    )
    message = lengths + struct.pack(">I", crc32(lengths)) + encoded_headers + payload
    return message + struct.pack(">I", crc32(message))


def encode_headers(headers: dict[str, HeaderValue]) -> bytes:
    """Headers as they are framed (what event-stream signatures hash)."""
    return b"".join(_encode_header(name, value) for name, value in headers.items())


def _encode_header(name: str, value: HeaderValue) -> bytes:
    key = name.encode()
    head = struct.pack(">B", len(key)) + key
    if isinstance(value, datetime):
        return head + struct.pack(">Bq", _TIMESTAMP, round(value.timestamp() * 1000))
    data = value.encode() if isinstance(value, str) else value
    return head + struct.pack(">BH", _STRING if isinstance(value, str) else _BYTES, len(data)) + data


def read_message(read: Callable[[int], bytes]) -> EventStreamMessage | None:
    """The next message from a byte source (``read(n)`` may return less than n); None at a clean
    end. A malformed or truncated message raises AwsError (SerializationException)."""
    prelude = _read_exactly(read, PRELUDE_LENGTH)
    if not prelude:
        return None
    total = struct.unpack(">I", prelude[:4])[0]
    if not PRELUDE_LENGTH + 4 <= total <= MAX_MESSAGE:
        raise _malformed(f"a message of {total} bytes")
    rest = _read_exactly(read, total - PRELUDE_LENGTH)
    if len(rest) != total - PRELUDE_LENGTH:
        raise _malformed("the stream ended inside a message")
    buffer = EventStreamBuffer()
    buffer.add_data(prelude + rest)
    try:
        return next(iter(buffer))
    except ParserError as error:
        raise _malformed(str(error)) from None


def _read_exactly(read: Callable[[int], bytes], size: int) -> bytes:
    data = bytearray()
    while len(data) < size:
        chunk = read(size - len(data))
        if not chunk:
            break
        data += chunk
    if 0 < len(data) < size:
        raise _malformed("the stream ended inside a message")
    return bytes(data)


def _malformed(detail: str) -> AwsError:
    return AwsError("SerializationException", f"Malformed event stream: {detail}.")


def read_events(
    stream_shape: Shape, read: Callable[[int], bytes], validation_error: str
) -> Iterator[dict[str, Any]]:
    """The events of an input event stream, each ``{member name: parsed structure}``, validated
    against its shape (``validation_error`` is the service's code for a bad one)."""
    while (message := read_message(read)) is not None:
        yield decode_event(stream_shape, message, validation_error)


def decode_event(stream_shape: Shape, message: EventStreamMessage, validation_error: str) -> dict[str, Any]:
    headers = message.headers
    name = headers.get(":event-type")
    if headers.get(":message-type") != "event" or name not in stream_shape.members:
        known = ", ".join(stream_shape.members)
        raise AwsError(
            validation_error, f"Unknown event {name!r} in the input stream; expected one of {known}."
        )
    shape = stream_shape.members[name]
    try:
        document = json.loads(message.payload or b"{}")
        if not isinstance(document, dict):
            raise JsonShapeError("", "an event's payload must be a JSON object")
        value = from_json(shape, document, name)
    except (UnicodeDecodeError, json.JSONDecodeError, JsonShapeError) as error:
        raise AwsError(validation_error, f"Invalid {name}: {error}") from None
    errors = validation_errors(shape, value)
    if errors:
        raise AwsError(validation_error, f"Invalid {name}: {describe(errors)}")
    return {name: value}


def encode_event(stream_shape: Shape, event: dict[str, Any]) -> bytes:
    """One output event, ``{member name: structure}``, as a framed message."""
    ((name, value),) = event.items()
    payload = json.dumps(to_json(stream_shape.members[name], value), separators=(",", ":")).encode()
    headers: dict[str, HeaderValue] = {
        ":message-type": "event",
        ":event-type": name,
        ":content-type": "application/json",
    }
    return encode_message(headers, payload)


def encode_exception(error: AwsError) -> bytes:
    """An error after the response began: the stream's last message."""
    headers: dict[str, HeaderValue] = {
        ":message-type": "exception",
        ":exception-type": error.code,
        ":content-type": "application/json",
    }
    return encode_message(headers, json.dumps({"message": error.message}).encode())


def encode_events(stream_shape: Shape, events: Iterator[dict[str, Any]]) -> Iterator[bytes]:
    """A response body: each event framed as it is made; an AwsError raised while making them ends
    the stream with an exception message."""
    try:
        for event in events:
            yield encode_event(stream_shape, event)
    except AwsError as error:
        yield encode_exception(error)
    finally:
        close = getattr(events, "close", None)
        if close is not None:
            close()
