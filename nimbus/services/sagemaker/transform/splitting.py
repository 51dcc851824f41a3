"""SplitType: how an input object is cut into records. Framed records (RecordIO, TFRecord) keep their
framing, so the container reads each request as a file of that format."""

from __future__ import annotations

import struct

from nimbus.engines.learn.recordio import MAGIC, RecordIOError, frames

TFRECORD_HEADER = 12  # uint64 length + uint32 CRC of the length
TFRECORD_FOOTER = 4  # uint32 CRC of the data


class SplitError(ValueError):
    """The object cannot be cut into records of its SplitType."""


def split_records(data: bytes, split_type: str) -> list[bytes]:
    if split_type == "Line":
        return _lines(data)
    if split_type == "RecordIO":
        return _recordio_frames(data)
    if split_type == "TFRecord":
        return _tfrecord_frames(data)
    return [data]


def _lines(data: bytes) -> list[bytes]:
    """Each line without its newline; a final newline ends the last record, it starts none."""
    lines = data.split(b"\n")
    if lines and not lines[-1]:
        lines.pop()
    return lines


def _recordio_frames(data: bytes) -> list[bytes]:
    try:
        return [
            struct.pack("<II", MAGIC, len(payload)) + payload + _padding(len(payload))
            for payload in frames(data)
        ]
    except RecordIOError as error:
        raise SplitError(f"The input is not RecordIO: {error}") from None


def _padding(length: int) -> bytes:
    return b"\0" * (-length % 4)


def _tfrecord_frames(data: bytes) -> list[bytes]:
    records = []
    position = 0
    while position < len(data):
        if len(data) - position < TFRECORD_HEADER:
            raise SplitError(f"The input is not TFRecord: truncated header at byte {position}")
        (length,) = struct.unpack_from("<Q", data, position)
        end = position + TFRECORD_HEADER + length + TFRECORD_FOOTER
        if end > len(data):
            raise SplitError(f"The input is not TFRecord: the record at byte {position} runs past the end")
        records.append(data[position:end])
        position = end
    return records
