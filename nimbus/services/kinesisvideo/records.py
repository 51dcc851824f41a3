"""Finding video streams by name or ARN, and Kinesis Video Streams' errors."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import Connection, select
from sqlalchemy.engine import Row

from nimbus.errors import AwsError
from nimbus.storage import Storage
from nimbus.storage.streams_schema import FragmentRecord, VideoStreamRecord

STREAMS = VideoStreamRecord.__table__
FRAGMENTS = FragmentRecord.__table__


def invalid_argument(message: str) -> AwsError:
    return AwsError("InvalidArgumentException", message, 400)


def stream_not_found(name: str) -> AwsError:
    return AwsError("ResourceNotFoundException", f"The requested stream {name} was not found.", 404)


def stream_arn(region: str, account_id: str, name: str, created_ms: int) -> str:
    return f"arn:aws:kinesisvideo:{region}:{account_id}:stream/{name}/{created_ms}"


def find_stream(
    connection: Connection, account_id: str, region: str, name: str | None, arn: str | None
) -> Row[Any]:
    """The account's stream StreamName or StreamARN names: one of them, not both, as AWS requires."""
    if (name is None) == (arn is None):
        raise invalid_argument("Specify either StreamName or StreamARN, but not both.")
    query = select(STREAMS).where(STREAMS.c.account_id == account_id)
    if arn is not None:
        query = query.where(STREAMS.c.arn == arn)
    else:
        query = query.where(STREAMS.c.region == region, STREAMS.c.name == name)
    stream = connection.execute(query).first()
    if stream is None:
        raise stream_not_found(name or str(arn))
    return stream


def with_stream_arn(
    storage: Storage, account_id: str, region: str, request: Mapping[str, Any]
) -> Mapping[str, Any]:
    """The input with the ARN of the stream its StreamName names (the authorization step's resource,
    which ends with the stream's creation time), where there is such a stream."""
    name = request.get("StreamName")
    if not isinstance(name, str) or request.get("StreamARN"):
        return request
    query = select(STREAMS.c.arn).where(
        STREAMS.c.account_id == account_id, STREAMS.c.region == region, STREAMS.c.name == name
    )
    with storage.database.engine.connect() as connection:
        arn = connection.scalar(query)
    return request if arn is None else {**request, "StreamARN": arn}


def stream_of(ctx: Any, connection: Connection, request: dict[str, Any]) -> Row[Any]:
    return find_stream(
        connection, ctx.caller.account_id, ctx.region, request.get("StreamName"), request.get("StreamARN")
    )
