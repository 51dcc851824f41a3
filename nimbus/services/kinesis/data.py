"""Records: PutRecord(s), GetShardIterator, GetRecords, and ``append_records`` for Nimbus's own
producers (Rekognition stream processors). A record's sequence number comes from its row id, so
each shard reads back in the order its records were committed."""

from __future__ import annotations

import base64
import binascii
import json
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, delete, func, insert, select
from sqlalchemy.engine import Row

from nimbus.errors import AwsError
from nimbus.services.kinesis import kinesis
from nimbus.services.kinesis.records import (
    MAX_HASH_KEY,
    RECORDS,
    find_stream,
    hash_key,
    invalid_argument,
    record_id,
    sequence_number,
    stream_by_arn,
)
from nimbus.services.registry import RequestContext
from nimbus.storage import Storage

MAX_RECORD_BYTES = 1024 * 1024  # data plus partition key
MAX_BATCH_RECORDS = 500
MAX_BATCH_BYTES = 5 * 1024 * 1024
ITERATOR_LIFETIME_S = 300
MAX_GET_RECORDS = 10_000
MAX_GET_BYTES = 10 * 1024 * 1024


@dataclass(frozen=True)
class NewRecord:
    partition_key: str
    data: bytes
    explicit_hash_key: str | None = None


def _shard_for(stream: Row[Any], record: NewRecord) -> str:
    if record.explicit_hash_key is not None:
        if not record.explicit_hash_key.isdigit() or int(record.explicit_hash_key) > MAX_HASH_KEY:
            raise invalid_argument("ExplicitHashKey must be a decimal integer from 0 to 2^128 - 1.")
        key = int(record.explicit_hash_key)
    else:
        key = hash_key(record.partition_key)
    for shard in stream.shards:
        span = shard["HashKeyRange"]
        if int(span["StartingHashKey"]) <= key <= int(span["EndingHashKey"]):
            return str(shard["ShardId"])
    raise AssertionError("the shards cover the whole hash key space")


def _check(record: NewRecord) -> None:
    if not record.partition_key or len(record.partition_key) > 256:
        raise invalid_argument("PartitionKey must be 1 to 256 characters long.")
    if len(record.data) + len(record.partition_key.encode()) > MAX_RECORD_BYTES:
        raise invalid_argument(
            f"Record size (data and partition key) exceeds the maximum of {MAX_RECORD_BYTES} bytes."
        )


def _append(connection: Connection, stream: Row[Any], record: NewRecord, now: float) -> tuple[str, str]:
    shard_id = _shard_for(stream, record)
    row_id = connection.execute(
        insert(RECORDS).values(
            stream_arn=stream.arn,
            shard_id=shard_id,
            partition_key=record.partition_key,
            data=record.data,
            arrived_at=now,
        )
    ).inserted_primary_key[0]
    return shard_id, sequence_number(row_id)


def append_records(storage: Storage, stream_arn: str, records: list[NewRecord]) -> bool:
    """Commits the records to the stream; False when the stream no longer exists."""
    with storage.database.engine.begin() as connection:
        stream = stream_by_arn(connection, stream_arn)
        if stream is None:
            return False
        now = time.time()
        for record in records:
            _append(connection, stream, record, now)
    return True


def _new_record(entry: dict[str, Any]) -> NewRecord:
    if "PartitionKey" not in entry:
        raise invalid_argument("PartitionKey is required.")
    record = NewRecord(entry["PartitionKey"], entry["Data"], entry.get("ExplicitHashKey"))
    _check(record)
    return record


@kinesis.operation
def put_record(ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
    """SequenceNumberForOrdering is not needed: a shard's records are in commit order anyway."""
    record = _new_record(request)
    with ctx.storage.database.engine.begin() as connection:
        stream = find_stream(ctx, connection, request)
        shard_id, sequence = _append(connection, stream, record, time.time())
    return {"ShardId": shard_id, "SequenceNumber": sequence, "EncryptionType": "NONE"}


@kinesis.operation
def put_records(ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
    entries = request["Records"]
    if len(entries) > MAX_BATCH_RECORDS:
        raise invalid_argument(f"Records must have at most {MAX_BATCH_RECORDS} entries.")
    if sum(len(entry["Data"]) + len(entry.get("PartitionKey", "")) for entry in entries) > MAX_BATCH_BYTES:
        raise invalid_argument(f"Records must total at most {MAX_BATCH_BYTES} bytes.")
    records = [_new_record(entry) for entry in entries]
    with ctx.storage.database.engine.begin() as connection:
        stream = find_stream(ctx, connection, request)
        now = time.time()
        results = []
        for record in records:
            shard_id, sequence = _append(connection, stream, record, now)
            results.append({"ShardId": shard_id, "SequenceNumber": sequence})
    return {"FailedRecordCount": 0, "Records": results, "EncryptionType": "NONE"}


def _iterator(stream_arn: str, shard_id: str, after: int) -> str:
    """Records of the shard after row ``after``; opaque to clients, valid for five minutes."""
    document = {"s": stream_arn, "h": shard_id, "a": after, "t": time.time()}
    return base64.b64encode(json.dumps(document, separators=(",", ":")).encode()).decode()


def _read_iterator(text: str) -> dict[str, Any]:
    try:
        document = json.loads(base64.b64decode(text, validate=True))
        if not isinstance(document, dict) or set(document) != {"s", "h", "a", "t"}:
            raise ValueError
        return document
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise invalid_argument(f"Invalid ShardIterator: {text[:64]}") from None


@kinesis.operation
def get_shard_iterator(ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
    kind = request["ShardIteratorType"]
    with ctx.storage.database.engine.connect() as connection:
        stream = find_stream(ctx, connection, request)
        shard_id = request["ShardId"]
        if shard_id not in {shard["ShardId"] for shard in stream.shards}:
            raise AwsError(
                "ResourceNotFoundException",
                f"Shard {shard_id} in stream {stream.name} under account {ctx.caller.account_id} "
                "does not exist",
                400,
            )
        in_shard = (RECORDS.c.stream_arn == stream.arn, RECORDS.c.shard_id == shard_id)
        if kind == "TRIM_HORIZON":
            after = 0
        elif kind == "LATEST":
            after = connection.execute(select(func.max(RECORDS.c.id)).where(*in_shard)).scalar() or 0
        elif kind in ("AT_SEQUENCE_NUMBER", "AFTER_SEQUENCE_NUMBER"):
            if not request.get("StartingSequenceNumber"):
                raise invalid_argument(f"StartingSequenceNumber is required for {kind}.")
            after = record_id(request["StartingSequenceNumber"]) - (kind == "AT_SEQUENCE_NUMBER")
        else:  # AT_TIMESTAMP
            if request.get("Timestamp") is None:
                raise invalid_argument("Timestamp is required for AT_TIMESTAMP.")
            since = request["Timestamp"].timestamp()
            after = (
                connection.execute(
                    select(func.max(RECORDS.c.id)).where(*in_shard, RECORDS.c.arrived_at < since)
                ).scalar()
                or 0
            )
    return {"ShardIterator": _iterator(stream.arn, shard_id, after)}


@kinesis.operation
def get_records(ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
    iterator = _read_iterator(request["ShardIterator"])
    if time.time() - iterator["t"] > ITERATOR_LIFETIME_S:
        raise AwsError(
            "ExpiredIteratorException",
            "Iterator expired. The iterator was created more than 5 minutes ago.",
            400,
        )
    limit = request.get("Limit", MAX_GET_RECORDS)
    with ctx.storage.database.engine.begin() as connection:
        stream = stream_by_arn(connection, iterator["s"])
        if stream is None or stream.account_id != ctx.caller.account_id:
            raise AwsError(
                "ResourceNotFoundException", "The stream of this shard iterator no longer exists.", 400
            )
        oldest = time.time() - stream.retention_hours * 3600
        connection.execute(
            delete(RECORDS).where(RECORDS.c.stream_arn == stream.arn, RECORDS.c.arrived_at < oldest)
        )
        rows = connection.execute(
            select(RECORDS)
            .where(
                RECORDS.c.stream_arn == stream.arn,
                RECORDS.c.shard_id == iterator["h"],
                RECORDS.c.id > iterator["a"],
            )
            .order_by(RECORDS.c.id)
            .limit(limit)
        ).all()
        latest = connection.execute(
            select(RECORDS.c.arrived_at)
            .where(RECORDS.c.stream_arn == stream.arn, RECORDS.c.shard_id == iterator["h"])
            .order_by(RECORDS.c.id.desc())
            .limit(1)
        ).scalar()
    records, size = [], 0
    for row in rows:
        size += len(row.data)
        if records and size > MAX_GET_BYTES:
            break
        records.append(row)
    behind = 0 if not records or latest is None else max(0, int((latest - records[-1].arrived_at) * 1000))
    last = records[-1].id if records else iterator["a"]
    return {
        "Records": [
            {
                "SequenceNumber": sequence_number(row.id),
                "ApproximateArrivalTimestamp": datetime.fromtimestamp(row.arrived_at, UTC),
                "Data": row.data,
                "PartitionKey": row.partition_key,
                "EncryptionType": "NONE",
            }
            for row in records
        ],
        "NextShardIterator": _iterator(stream.arn, iterator["h"], last),
        "MillisBehindLatest": behind,
    }
