"""Finding streams by name or ARN; Kinesis's errors; sequence numbers and hash keys."""

from __future__ import annotations

import hashlib
from typing import Any

from sqlalchemy import Connection, select
from sqlalchemy.engine import Row

from nimbus.errors import AwsError
from nimbus.services.registry import RequestContext
from nimbus.storage.streams_schema import DataRecord, DataStreamRecord

STREAMS = DataStreamRecord.__table__
RECORDS = DataRecord.__table__
MAX_HASH_KEY = 2**128 - 1


def invalid_argument(message: str) -> AwsError:
    return AwsError("InvalidArgumentException", message, 400)


def stream_not_found(name: str, account_id: str) -> AwsError:
    return AwsError("ResourceNotFoundException", f"Stream {name} under account {account_id} not found.", 400)


def stream_arn(region: str, account_id: str, name: str) -> str:
    return f"arn:aws:kinesis:{region}:{account_id}:stream/{name}"


def sequence_number(record_id: int) -> str:
    """56 decimal digits, as AWS's, rising with the record's row id (so ordered within each shard)."""
    return f"49{record_id:054d}"


def record_id(sequence: str) -> int:
    if len(sequence) != 56 or not sequence.isdigit() or not sequence.startswith("49"):
        raise invalid_argument(
            f"Invalid StartingSequenceNumber. It encodes no record of this stream: {sequence}"
        )
    return int(sequence[2:])


def hash_key(partition_key: str) -> int:
    """The 128-bit key a partition key maps to (its MD5), which picks the shard."""
    return int.from_bytes(hashlib.md5(partition_key.encode()).digest(), "big")


def find_stream(ctx: RequestContext, connection: Connection, request: dict[str, Any]) -> Row[Any]:
    """The stream StreamARN or StreamName names (one of them is needed)."""
    arn = request.get("StreamARN")
    name = request.get("StreamName")
    if arn is None and name is None:
        raise invalid_argument("Either StreamName or StreamARN must be provided.")
    if arn is None:
        arn = stream_arn(ctx.region, ctx.caller.account_id, name or "")
    stream = connection.execute(
        select(STREAMS).where(STREAMS.c.arn == arn, STREAMS.c.account_id == ctx.caller.account_id)
    ).first()
    if stream is None or (name is not None and stream.name != name):
        raise stream_not_found(name or arn.rsplit("/", 1)[-1], ctx.caller.account_id)
    return stream


def stream_by_arn(connection: Connection, arn: str) -> Row[Any] | None:
    return connection.execute(select(STREAMS).where(STREAMS.c.arn == arn)).first()
