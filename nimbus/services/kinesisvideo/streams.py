"""Video streams: create, describe, list, update, delete; retention; data endpoints; tags."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Update, delete, insert, select, update
from sqlalchemy.engine import Row

from nimbus.errors import AwsError
from nimbus.services.kinesisvideo import kinesisvideo
from nimbus.services.kinesisvideo.fragments import remove_stream_files
from nimbus.services.kinesisvideo.records import FRAGMENTS, STREAMS, invalid_argument, stream_arn, stream_of
from nimbus.services.registry import RequestContext
from nimbus.services.resource_tags import add_tags, remove_tags

MAX_TAGS = 50
DEFAULT_LIST_LIMIT = 10_000
MAX_RETENTION_HOURS = 87_600  # ten years, AWS's limit


def _version() -> str:
    return secrets.token_hex(10)


def _info(stream: Row[Any]) -> dict[str, Any]:
    info = {
        "StreamName": stream.name,
        "StreamARN": stream.arn,
        "Version": stream.version,
        "Status": stream.status,
        "CreationTime": stream.created_at,
        "DataRetentionInHours": stream.retention_hours,
        "DeviceName": stream.device_name,
        "MediaType": stream.media_type,
        "KmsKeyId": stream.kms_key_id,
    }
    return {name: value for name, value in info.items() if value is not None}


@kinesisvideo.operation
def create_stream(ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
    """ACTIVE at once; KmsKeyId is recorded, fragments are not encrypted beyond the data dir's own
    protection. StreamStorageConfiguration is ignored."""
    name = request["StreamName"]
    tags = request.get("Tags") or {}
    if len(tags) > MAX_TAGS:
        raise _too_many_tags()
    now = datetime.now(UTC)
    arn = stream_arn(ctx.region, ctx.caller.account_id, name, int(now.timestamp() * 1000))
    with ctx.storage.database.engine.begin() as connection:
        taken = connection.execute(
            select(STREAMS.c.arn).where(
                STREAMS.c.account_id == ctx.caller.account_id,
                STREAMS.c.region == ctx.region,
                STREAMS.c.name == name,
            )
        ).first()
        if taken is not None:
            raise AwsError("ResourceInUseException", f"The stream {name} already exists.", 400)
        connection.execute(
            insert(STREAMS).values(
                arn=arn,
                account_id=ctx.caller.account_id,
                region=ctx.region,
                name=name,
                status="ACTIVE",
                version=_version(),
                retention_hours=request.get("DataRetentionInHours", 0),
                device_name=request.get("DeviceName"),
                media_type=request.get("MediaType"),
                kms_key_id=request.get("KmsKeyId")
                or "arn:aws:kms:" + ctx.region + ":" + ctx.caller.account_id + ":alias/aws/kinesisvideo",
                tags=tags,
                created_at=now,
            )
        )
    return {"StreamARN": arn}


@kinesisvideo.operation
def describe_stream(ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
    with ctx.storage.database.engine.connect() as connection:
        return {"StreamInfo": _info(stream_of(ctx, connection, request))}


@kinesisvideo.operation
def list_streams(ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
    limit = request.get("MaxResults", DEFAULT_LIST_LIMIT)
    query = select(STREAMS).where(
        STREAMS.c.account_id == ctx.caller.account_id, STREAMS.c.region == ctx.region
    )
    condition = request.get("StreamNameCondition")
    if condition:
        query = query.where(STREAMS.c.name.startswith(condition["ComparisonValue"]))
    if request.get("NextToken"):
        query = query.where(STREAMS.c.name > request["NextToken"])
    with ctx.storage.database.engine.connect() as connection:
        streams = connection.execute(query.order_by(STREAMS.c.name).limit(limit + 1)).all()
    output: dict[str, Any] = {"StreamInfoList": [_info(stream) for stream in streams[:limit]]}
    if len(streams) > limit:
        output["NextToken"] = streams[limit - 1].name
    return output


def _check_version(stream: Row[Any], version: str | None) -> None:
    if version is not None and version != stream.version:
        raise AwsError(
            "VersionMismatchException",
            f"The version {version} is not the stream's current version {stream.version}.",
            400,
        )


@kinesisvideo.operation
def delete_stream(ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
    """Deleted at once, with its fragments (no DELETING phase)."""
    with ctx.storage.database.engine.begin() as connection:
        stream = stream_of(ctx, connection, {"StreamARN": request["StreamARN"]})
        _check_version(stream, request.get("CurrentVersion"))
        connection.execute(delete(FRAGMENTS).where(FRAGMENTS.c.stream_arn == stream.arn))
        connection.execute(delete(STREAMS).where(STREAMS.c.arn == stream.arn))
    remove_stream_files(ctx.storage, stream.arn)
    return {}


@kinesisvideo.operation
def update_stream(ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
    with ctx.storage.database.engine.begin() as connection:
        stream = stream_of(ctx, connection, request)
        _check_version(stream, request["CurrentVersion"])
        changes = {
            column: request[member]
            for member, column in (("DeviceName", "device_name"), ("MediaType", "media_type"))
            if member in request
        }
        connection.execute(
            update(STREAMS).where(STREAMS.c.arn == stream.arn).values(version=_version(), **changes)
        )
    return {}


@kinesisvideo.operation
def update_data_retention(ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
    change = request["DataRetentionChangeInHours"]
    with ctx.storage.database.engine.begin() as connection:
        stream = stream_of(ctx, connection, request)
        _check_version(stream, request["CurrentVersion"])
        hours = stream.retention_hours + (
            change if request["Operation"] == "INCREASE_DATA_RETENTION" else -change
        )
        if not 0 <= hours <= MAX_RETENTION_HOURS:
            raise invalid_argument(
                f"The retention would become {hours} hours; it must be from 0 to {MAX_RETENTION_HOURS} hours."
            )
        connection.execute(
            update(STREAMS)
            .where(STREAMS.c.arn == stream.arn)
            .values(retention_hours=hours, version=_version())
        )
    return {}


@kinesisvideo.operation
def get_data_endpoint(ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
    """Every API's endpoint is this Nimbus (the Host the request came to). PUT_MEDIA: PutMedia, which
    no botocore model describes, is served at POST /putMedia (docs/streams.md)."""
    with ctx.storage.database.engine.connect() as connection:
        stream_of(ctx, connection, request)
    return {"DataEndpoint": f"http://{ctx.host or 'localhost'}"}


def _row(stream: Row[Any]) -> Update:
    return update(STREAMS).where(STREAMS.c.arn == stream.arn)


def _too_many_tags() -> AwsError:
    return AwsError(
        "TagsPerResourceExceededLimitException", f"A stream can have at most {MAX_TAGS} tags.", 400
    )


@kinesisvideo.operation
def tag_stream(ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
    with ctx.storage.database.engine.begin() as connection:
        stream = stream_of(ctx, connection, request)
        add_tags(connection, _row(stream), stream.tags, request["Tags"], MAX_TAGS, _too_many_tags())
    return {}


@kinesisvideo.operation
def untag_stream(ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
    with ctx.storage.database.engine.begin() as connection:
        stream = stream_of(ctx, connection, request)
        remove_tags(connection, _row(stream), stream.tags, request["TagKeyList"])
    return {}


@kinesisvideo.operation
def list_tags_for_stream(ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
    with ctx.storage.database.engine.connect() as connection:
        stream = stream_of(ctx, connection, request)
    return {"Tags": stream.tags}
