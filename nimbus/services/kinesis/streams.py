"""Streams: create, describe, list, delete; shards; retention; tags."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Update, delete, insert, select, update
from sqlalchemy.engine import Row

from nimbus.errors import AwsError
from nimbus.services.kinesis import kinesis
from nimbus.services.kinesis.records import (
    MAX_HASH_KEY,
    RECORDS,
    STREAMS,
    find_stream,
    invalid_argument,
    sequence_number,
    stream_arn,
)
from nimbus.services.registry import RequestContext
from nimbus.services.resource_tags import add_tags, remove_tags

STREAM_NAME = re.compile(r"[a-zA-Z0-9_.-]{1,128}")
DEFAULT_RETENTION_HOURS = 24
MAX_RETENTION_HOURS = 8760
ON_DEMAND_SHARDS = 4  # what an on-demand stream starts with
MAX_SHARDS = 500  # AWS's default shard quota per account and region (us-east-1)
DEFAULT_LIST_LIMIT = 100
MAX_TAGS = 50


def _shards(count: int, starting_record: int) -> list[dict[str, Any]]:
    """``count`` shards splitting the 128-bit hash key space evenly."""
    width = (MAX_HASH_KEY + 1) // count
    return [
        {
            "ShardId": f"shardId-{index:012d}",
            "HashKeyRange": {
                "StartingHashKey": str(index * width),
                "EndingHashKey": str(MAX_HASH_KEY if index == count - 1 else (index + 1) * width - 1),
            },
            "SequenceNumberRange": {"StartingSequenceNumber": sequence_number(starting_record)},
        }
        for index in range(count)
    ]


@kinesis.operation
def create_stream(ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
    """The stream is ACTIVE at once (no CREATING phase); WarmThroughputMiBps and
    RecordDistributionStrategy are ignored."""
    name = request["StreamName"]
    if not STREAM_NAME.fullmatch(name):
        raise invalid_argument("StreamName must be 1 to 128 letters, digits, '_', '.' or '-'.")
    mode = (request.get("StreamModeDetails") or {}).get("StreamMode", "PROVISIONED")
    count = request.get("ShardCount")
    if mode == "PROVISIONED" and count is None:
        raise invalid_argument("ShardCount is required for a PROVISIONED stream.")
    count = count or ON_DEMAND_SHARDS
    if count > MAX_SHARDS:
        raise AwsError(
            "LimitExceededException", f"This request would exceed the shard limit of {MAX_SHARDS}.", 400
        )
    arn = stream_arn(ctx.region, ctx.caller.account_id, name)
    with ctx.storage.database.engine.begin() as connection:
        if connection.execute(select(STREAMS.c.arn).where(STREAMS.c.arn == arn)).first() is not None:
            raise AwsError(
                "ResourceInUseException",
                f"Stream {name} under account {ctx.caller.account_id} already exists.",
                400,
            )
        connection.execute(
            insert(STREAMS).values(
                arn=arn,
                account_id=ctx.caller.account_id,
                region=ctx.region,
                name=name,
                status="ACTIVE",
                mode=mode,
                retention_hours=DEFAULT_RETENTION_HOURS,
                shards=_shards(count, 0),
                tags=request.get("Tags") or {},
                created_at=datetime.now(UTC),
            )
        )
    return {}


@kinesis.operation
def delete_stream(ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
    """Deleted at once (no DELETING phase), with its records."""
    with ctx.storage.database.engine.begin() as connection:
        stream = find_stream(ctx, connection, request)
        connection.execute(delete(RECORDS).where(RECORDS.c.stream_arn == stream.arn))
        connection.execute(delete(STREAMS).where(STREAMS.c.arn == stream.arn))
    return {}


def _common(stream: Row[Any]) -> dict[str, Any]:
    return {
        "StreamName": stream.name,
        "StreamARN": stream.arn,
        "StreamStatus": stream.status,
        "StreamModeDetails": {"StreamMode": stream.mode},
        "RetentionPeriodHours": stream.retention_hours,
        "StreamCreationTimestamp": stream.created_at,
        "EnhancedMonitoring": [{"ShardLevelMetrics": []}],
        "EncryptionType": "NONE",
    }


def _shard_page(
    shards: list[dict[str, Any]], after: str | None, limit: int
) -> tuple[list[dict[str, Any]], bool]:
    start = (
        0
        if after is None
        else next((i + 1 for i, s in enumerate(shards) if s["ShardId"] == after), len(shards))
    )
    page = shards[start : start + limit]
    return page, start + limit < len(shards)


@kinesis.operation
def describe_stream(ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
    with ctx.storage.database.engine.connect() as connection:
        stream = find_stream(ctx, connection, request)
    shards, more = _shard_page(stream.shards, request.get("ExclusiveStartShardId"), request.get("Limit", 100))
    return {"StreamDescription": {**_common(stream), "Shards": shards, "HasMoreShards": more}}


@kinesis.operation
def describe_stream_summary(ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
    with ctx.storage.database.engine.connect() as connection:
        stream = find_stream(ctx, connection, request)
    return {
        "StreamDescriptionSummary": {
            **_common(stream),
            "StreamId": stream.arn.rsplit("/", 1)[-1],
            "OpenShardCount": len(stream.shards),
            "ConsumerCount": 0,
        }
    }


@kinesis.operation
def list_streams(ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
    limit = request.get("Limit", DEFAULT_LIST_LIMIT)
    after = request.get("NextToken") or request.get("ExclusiveStartStreamName")
    query = select(STREAMS).where(
        STREAMS.c.account_id == ctx.caller.account_id, STREAMS.c.region == ctx.region
    )
    if after:
        query = query.where(STREAMS.c.name > after)
    with ctx.storage.database.engine.connect() as connection:
        streams = connection.execute(query.order_by(STREAMS.c.name).limit(limit + 1)).all()
    page, more = streams[:limit], len(streams) > limit
    output: dict[str, Any] = {
        "StreamNames": [stream.name for stream in page],
        "HasMoreStreams": more,
        "StreamSummaries": [
            {
                "StreamName": stream.name,
                "StreamARN": stream.arn,
                "StreamStatus": stream.status,
                "StreamModeDetails": {"StreamMode": stream.mode},
                "StreamCreationTimestamp": stream.created_at,
            }
            for stream in page
        ],
    }
    if more:
        output["NextToken"] = page[-1].name
    return output


@kinesis.operation
def list_shards(ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
    """ShardFilter is accepted; every shard is open (streams are never resharded), so all match."""
    token = request.get("NextToken")
    if token and (request.get("StreamName") or request.get("StreamARN")):
        raise invalid_argument("NextToken and StreamName cannot be provided together.")
    if token:
        arn, _, after = token.rpartition("|")
        request = {"StreamARN": arn}
    else:
        after = request.get("ExclusiveStartShardId") or ""
    with ctx.storage.database.engine.connect() as connection:
        stream = find_stream(ctx, connection, request)
    shards, more = _shard_page(stream.shards, after or None, request.get("MaxResults", 1000))
    output: dict[str, Any] = {"Shards": shards}
    if more:
        output["NextToken"] = f"{stream.arn}|{shards[-1]['ShardId']}"
    return output


def _set_retention(ctx: RequestContext, request: dict[str, Any], increase: bool) -> dict[str, Any]:
    hours = request["RetentionPeriodHours"]
    with ctx.storage.database.engine.begin() as connection:
        stream = find_stream(ctx, connection, request)
        if not 24 <= hours <= MAX_RETENTION_HOURS:
            raise invalid_argument(
                f"Minimum allowed retention period is 24 hours. Maximum allowed retention "
                f"period is {MAX_RETENTION_HOURS} hours. Requested retention period ({hours} "
                "hours) is out of range."
            )
        if (hours < stream.retention_hours) if increase else (hours > stream.retention_hours):
            raise invalid_argument(
                f"Requested retention period ({hours} hours) for stream {stream.name} can not be "
                f"{'shorter' if increase else 'longer'} than existing retention period "
                f"({stream.retention_hours} hours). Use {'Decrease' if increase else 'Increase'}"
                "StreamRetentionPeriod API."
            )
        connection.execute(update(STREAMS).where(STREAMS.c.arn == stream.arn).values(retention_hours=hours))
    return {}


@kinesis.operation
def increase_stream_retention_period(ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
    return _set_retention(ctx, request, increase=True)


@kinesis.operation
def decrease_stream_retention_period(ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
    return _set_retention(ctx, request, increase=False)


def _row(stream: Row[Any]) -> Update:
    return update(STREAMS).where(STREAMS.c.arn == stream.arn)


@kinesis.operation
def add_tags_to_stream(ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
    with ctx.storage.database.engine.begin() as connection:
        stream = find_stream(ctx, connection, request)
        too_many = invalid_argument(f"A stream can have at most {MAX_TAGS} tags.")
        add_tags(connection, _row(stream), stream.tags, request["Tags"], MAX_TAGS, too_many)
    return {}


@kinesis.operation
def remove_tags_from_stream(ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
    with ctx.storage.database.engine.begin() as connection:
        stream = find_stream(ctx, connection, request)
        remove_tags(connection, _row(stream), stream.tags, request["TagKeys"])
    return {}


@kinesis.operation
def list_tags_for_stream(ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
    with ctx.storage.database.engine.connect() as connection:
        stream = find_stream(ctx, connection, request)
    keys = sorted(stream.tags)
    start = (
        keys.index(request["ExclusiveStartTagKey"]) + 1 if request.get("ExclusiveStartTagKey") in keys else 0
    )
    limit = request.get("Limit", 10)
    page = keys[start : start + limit]
    return {
        "Tags": [{"Key": key, "Value": stream.tags[key]} for key in page],
        "HasMoreTags": start + limit < len(keys),
    }
