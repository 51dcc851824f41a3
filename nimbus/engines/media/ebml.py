"""EBML, the binary format under Matroska: variable-length integers, element headers, and elements
read one at a time from a stream as it arrives (sizes may be unknown, as a live producer sends them).

A small reader of its own: the EBML libraries on PyPI (ebmlite, for one) parse whole, seekable
documents against a schema, while a PutMedia body is an endless stream read over the network."""

from __future__ import annotations

import struct
from collections.abc import Callable
from dataclasses import dataclass

UNKNOWN_SIZE_BYTES = b"\x01\xff\xff\xff\xff\xff\xff\xff"  # an 8-byte size with every value bit set
MAX_ID_LENGTH = 4
MAX_SIZE_LENGTH = 8


class EbmlError(ValueError):
    """Bytes that are not EBML."""


class TruncatedError(EbmlError):
    """The stream ended inside an element."""


@dataclass(frozen=True)
class Header:
    element_id: int
    size: int | None  # None: unknown (the element runs until a sibling or parent element starts)
    raw: bytes  # the header's bytes as read

    @property
    def known(self) -> bool:
        return self.size is not None


def _vint_length(first: int, limit: int) -> int:
    for length in range(1, limit + 1):
        if first & (0x80 >> (length - 1)):
            return length
    raise EbmlError(f"invalid variable-length integer (first byte {first:#04x})")


def encode_id(element_id: int) -> bytes:
    return element_id.to_bytes((element_id.bit_length() + 7) // 8, "big")


def encode_size(size: int) -> bytes:
    """The shortest encoding of ``size`` (all-ones values are reserved for "unknown")."""
    for length in range(1, MAX_SIZE_LENGTH + 1):
        if size < (1 << (7 * length)) - 1:
            return (size | (1 << (7 * length))).to_bytes(length, "big")
    raise EbmlError(f"element too large: {size} bytes")


def element(element_id: int, payload: bytes) -> bytes:
    return encode_id(element_id) + encode_size(len(payload)) + payload


def uint_element(element_id: int, value: int) -> bytes:
    return element(element_id, value.to_bytes(max(1, (value.bit_length() + 7) // 8), "big"))


def string_element(element_id: int, text: str) -> bytes:
    return element(element_id, text.encode())


def float_element(element_id: int, value: float) -> bytes:
    return element(element_id, struct.pack(">d", value))


def read_uint(payload: bytes) -> int:
    return int.from_bytes(payload, "big") if payload else 0


def read_float(payload: bytes) -> float:
    if len(payload) == 4:
        return float(struct.unpack(">f", payload)[0])
    if len(payload) == 8:
        return float(struct.unpack(">d", payload)[0])
    if not payload:
        return 0.0
    raise EbmlError(f"a float element of {len(payload)} bytes")


def read_vint(data: bytes, offset: int) -> tuple[int, int]:
    """(value, length) of the variable-length size at ``offset`` (marker bit removed)."""
    if offset >= len(data):
        raise TruncatedError("a variable-length integer is cut short")
    length = _vint_length(data[offset], MAX_SIZE_LENGTH)
    if offset + length > len(data):
        raise TruncatedError("a variable-length integer is cut short")
    value = int.from_bytes(data[offset : offset + length], "big") & ((1 << (7 * length)) - 1)
    return value, length


def children(payload: bytes) -> list[tuple[int, bytes]]:
    """The (id, payload) of each element in a master element's payload (all of known size)."""
    found = []
    offset = 0
    while offset < len(payload):
        length = _vint_length(payload[offset], MAX_ID_LENGTH)
        element_id = int.from_bytes(payload[offset : offset + length], "big")
        size, size_length = read_vint(payload, offset + length)
        start = offset + length + size_length
        if size == (1 << (7 * size_length)) - 1 or start + size > len(payload):
            raise EbmlError(f"element {element_id:#x} overruns its parent")
        found.append((element_id, payload[start : start + size]))
        offset = start + size
    return found


class ElementReader:
    """Element headers and payloads from a ``read(n)`` function, with one header of look-ahead (an
    element of unknown size ends where a header that cannot belong to it begins)."""

    def __init__(self, read: Callable[[int], bytes]) -> None:
        self._read = read
        self._buffer = bytearray()
        self._pending: Header | None = None
        self.position = 0  # bytes consumed so far

    def _fill(self, count: int) -> bool:
        while len(self._buffer) < count:  # asks for no more than it needs: a live stream has no more yet
            chunk = self._read(count - len(self._buffer))
            if not chunk:
                return False
            self._buffer += chunk
        return True

    def _take(self, count: int) -> bytes:
        if not self._fill(count):
            raise TruncatedError(
                f"the stream ended {count - len(self._buffer)} bytes short of an element's end"
            )
        data = bytes(self._buffer[:count])
        del self._buffer[:count]
        self.position += count
        return data

    def next_header(self) -> Header | None:
        """The next element's header; None at the end of the stream (between elements)."""
        if self._pending is not None:
            header, self._pending = self._pending, None
            return header
        if not self._fill(1):
            return None
        id_length = _vint_length(self._buffer[0], MAX_ID_LENGTH)
        if not self._fill(id_length + 1):
            raise TruncatedError("the stream ended inside an element header")
        size_length = _vint_length(self._buffer[id_length], MAX_SIZE_LENGTH)
        raw = self._take(id_length + size_length)
        element_id = int.from_bytes(raw[:id_length], "big")
        size = int.from_bytes(raw[id_length:], "big") & ((1 << (7 * size_length)) - 1)
        unknown = size == (1 << (7 * size_length)) - 1
        return Header(element_id, None if unknown else size, raw)

    def push_back(self, header: Header) -> None:
        """Puts back a header read ahead: the next ``next_header`` returns it."""
        self._pending = header

    def payload(self, header: Header) -> bytes:
        if header.size is None:
            raise EbmlError(f"element {header.element_id:#x} has an unknown size where one is needed")
        return self._take(header.size)
