"""``application/x-recordio-protobuf``: SageMaker's binary format for the built-in algorithms.

A file is a sequence of RecordIO frames (little-endian uint32 magic ``0xced7230a``, uint32 length,
the payload, zero padding to a multiple of 4 bytes), each payload an ``aialgs.data.Record``::

    message Record { map<string, Value> features = 1; map<string, Value> label = 2; ... }
    message Value { oneof value { Float32Tensor float32_tensor = 2; Float64Tensor float64_tensor = 3;
                                  Int32Tensor int32_tensor = 7; Bytes bytes = 9; } }
    message Float32Tensor { repeated float values = 1 [packed]; repeated uint64 keys = 2 [packed];
                            repeated uint64 shape = 3 [packed]; }   (Float64/Int32 alike)

The protobuf wire format is decoded here by hand (varints, length-delimited fields, packed or
unpacked repeated values), so no generated code is needed. Sparse tensors (``keys`` and ``shape``,
as ``write_spmatrix_to_sparse_tensor`` writes them) are read as dense vectors. Nimbus does not read
MXNet's multi-part records (a non-zero continuation flag in the length's upper 3 bits): the
SageMaker SDK never writes them.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

MAGIC = 0xCED7230A
LENGTH_MASK = (1 << 29) - 1
CONTENT_TYPE = "application/x-recordio-protobuf"
# Value's tensor fields: field number -> (dtype of packed values, wire type of one unpacked value)
TENSORS = {2: (np.dtype("<f4"), 5), 3: (np.dtype("<f8"), 1), 7: (np.dtype(np.int64), 0)}
VARINT, FIXED64, BYTES, FIXED32 = 0, 1, 2, 5


class RecordIOError(ValueError):
    """The bytes are not RecordIO-framed ``aialgs.data.Record`` protobufs."""


@dataclass
class Record:
    """One decoded record: each named feature and label as a float64 vector."""

    features: dict[str, np.ndarray] = field(default_factory=dict)
    label: dict[str, np.ndarray] = field(default_factory=dict)


def frames(data: bytes) -> Iterator[bytes]:
    """The payload of each RecordIO frame in ``data``."""
    position = 0
    while position < len(data):
        if len(data) - position < 8:
            raise RecordIOError(f"truncated RecordIO header at byte {position}")
        magic, length = struct.unpack_from("<II", data, position)
        if magic != MAGIC:
            raise RecordIOError(f"bad RecordIO magic number {magic:#010x} at byte {position}")
        if length >> 29:
            raise RecordIOError("multi-part RecordIO records are not supported")
        start = position + 8
        end = start + (length & LENGTH_MASK)
        if end > len(data):
            raise RecordIOError(f"RecordIO record at byte {position} runs past the end of the data")
        yield data[start:end]
        position = start + ((length + 3) & ~3)


def read_records(data: bytes) -> list[Record]:
    return [parse_record(payload) for payload in frames(data)]


def read_dense(data: bytes) -> tuple[np.ndarray, np.ndarray | None]:
    """Features (``features["values"]``, one row per record) and labels (``label["values"]``, first
    value; None when no record has a label)."""
    records = read_records(data)
    if not records:
        raise RecordIOError("no records")
    try:
        rows = [record.features["values"] for record in records]
    except KeyError:
        raise RecordIOError('a record has no "values" feature') from None
    if len({len(row) for row in rows}) != 1:
        raise RecordIOError("records have different numbers of features")
    labelled = ["values" in record.label for record in records]
    if any(labelled) and not all(labelled):
        raise RecordIOError("some records have a label and others do not")
    labels = np.array([record.label["values"][0] for record in records]) if all(labelled) else None
    return np.vstack(rows), labels


def parse_record(payload: bytes) -> Record:
    record = Record()
    for number, _, value in _fields(payload):
        if number in (1, 2):
            name, tensor = _map_entry(value)  # type: ignore[arg-type]
            (record.features if number == 1 else record.label)[name] = tensor
    return record


def _map_entry(entry: bytes) -> tuple[str, np.ndarray]:
    name, tensor = "", np.zeros(0)
    for number, _, value in _fields(entry):
        if number == 1:
            name = bytes(value).decode("utf-8")  # type: ignore[arg-type]
        elif number == 2:
            tensor = _value(value)  # type: ignore[arg-type]
    return name, tensor


def _value(message: bytes) -> np.ndarray:
    for number, _, tensor in _fields(message):
        if number in TENSORS:
            return _tensor(tensor, *TENSORS[number])  # type: ignore[arg-type]
        if number == 9:
            raise RecordIOError("Bytes values are not supported: use float32, float64 or int32 tensors")
    raise RecordIOError("a feature or label value holds no tensor")


def _tensor(message: bytes, dtype: np.dtype, unpacked_wire_type: int) -> np.ndarray:
    values: list[np.ndarray] = []
    keys: list[int] = []
    shape: list[int] = []
    for number, wire_type, value in _fields(message):
        if number == 1:
            values.append(_numbers(value, wire_type, dtype, unpacked_wire_type))
        elif number in (2, 3):
            (keys if number == 2 else shape).extend(_unsigned(value, wire_type))
    dense = np.concatenate(values).astype(np.float64) if values else np.zeros(0)
    if not keys:
        return dense
    if len(keys) != len(dense) or not shape:
        raise RecordIOError("a sparse tensor needs as many keys as values, and a shape")
    vector = np.zeros(int(np.prod(shape)))
    vector[np.asarray(keys, dtype=np.int64)] = dense
    return vector


def _numbers(value: bytes | int, wire_type: int, dtype: np.dtype, unpacked_wire_type: int) -> np.ndarray:
    if wire_type == BYTES and unpacked_wire_type == VARINT:  # packed int32: varints
        assert isinstance(value, bytes)
        return np.array([_signed32(number) for number in _varints(value)], dtype=np.int64)
    if wire_type == BYTES:
        assert isinstance(value, bytes)
        if len(value) % dtype.itemsize:
            raise RecordIOError("packed tensor values are truncated")
        return np.frombuffer(value, dtype=dtype)
    if wire_type != unpacked_wire_type:
        raise RecordIOError(f"unexpected wire type {wire_type} for tensor values")
    if wire_type == VARINT:
        assert isinstance(value, int)
        return np.array([_signed32(value)], dtype=np.int64)
    assert isinstance(value, bytes)
    return np.frombuffer(value, dtype=dtype)


def _unsigned(value: bytes | int, wire_type: int) -> list[int]:
    if wire_type == BYTES:
        assert isinstance(value, bytes)
        return list(_varints(value))
    if wire_type != VARINT:
        raise RecordIOError(f"unexpected wire type {wire_type} for tensor keys or shape")
    assert isinstance(value, int)
    return [value]


def _signed32(number: int) -> int:
    number &= 0xFFFFFFFF
    return number - (1 << 32) if number >= 1 << 31 else number


def _varint(data: bytes, position: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        if position >= len(data):
            raise RecordIOError("truncated varint")
        byte = data[position]
        position += 1
        result |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return result, position
        shift += 7
        if shift >= 70:
            raise RecordIOError("varint too long")


def _varints(data: bytes) -> Iterator[int]:
    position = 0
    while position < len(data):
        number, position = _varint(data, position)
        yield number


def _fields(message: bytes) -> Iterator[tuple[int, int, bytes | int]]:
    """(field number, wire type, value) for each field: an int for varints, bytes otherwise."""
    position = 0
    while position < len(message):
        key, position = _varint(message, position)
        number, wire_type = key >> 3, key & 7
        value: bytes | int
        if wire_type == VARINT:
            value, position = _varint(message, position)
        elif wire_type in (FIXED64, FIXED32):
            size = 8 if wire_type == FIXED64 else 4
            value, position = message[position : position + size], position + size
        elif wire_type == BYTES:
            size, position = _varint(message, position)
            value, position = message[position : position + size], position + size
        else:
            raise RecordIOError(f"unsupported protobuf wire type {wire_type}")
        if position > len(message):
            raise RecordIOError("truncated protobuf field")
        yield number, wire_type, value


def encode_record(features: Mapping[str, Sequence[float]], label: Mapping[str, Sequence[float]]) -> bytes:
    """One ``Record`` protobuf with float32 tensors, as ``write_numpy_to_dense_tensor`` writes it."""
    return b"".join(
        _length_delimited(
            number, _length_delimited(1, name.encode()) + _length_delimited(2, _float32_value(values))
        )
        for number, tensors in ((1, features), (2, label))
        for name, values in tensors.items()
    )


def _float32_value(values: Sequence[float]) -> bytes:
    """A ``Value`` message holding a ``Float32Tensor`` of packed values."""
    packed = np.asarray(values, dtype="<f4").tobytes()
    return _length_delimited(2, _length_delimited(1, packed))


def _length_delimited(number: int, payload: bytes) -> bytes:
    return _encode_varint(number << 3 | BYTES) + _encode_varint(len(payload)) + payload


def _encode_varint(number: int) -> bytes:
    out = bytearray()
    while True:
        byte = number & 0x7F
        number >>= 7
        if number:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def frame(payload: bytes) -> bytes:
    return struct.pack("<II", MAGIC, len(payload)) + payload + b"\x00" * (-len(payload) % 4)


def write_dense(features: np.ndarray, labels: np.ndarray | None = None) -> bytes:
    """RecordIO-framed records of the rows of ``features`` (and ``labels``), float32 like the SDK's
    ``write_numpy_to_dense_tensor`` for float32 arrays."""
    return b"".join(
        frame(encode_record({"values": row}, {"values": [labels[index]]} if labels is not None else {}))
        for index, row in enumerate(np.asarray(features, dtype=np.float32).reshape(len(features), -1))
    )
