"""Kinesis Video Streams archived media: ListFragments, GetMediaForFragmentList, GetImages over the
fragments a stream keeps for its retention period; GetClip and the HLS and DASH sessions (their
fragmented MP4 remux) in ``clips`` and ``sessions``."""

from __future__ import annotations

import base64
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.engine import Row

from nimbus.engines.media.frames import UndecodableMedia, encode_picture, fragment_frames
from nimbus.errors import AwsError
from nimbus.services.kinesisvideo.fragments import (
    chunk,
    fragment_number,
    fragment_path,
    fragment_row_id,
    retained_since_ms,
    seconds,
)
from nimbus.services.kinesisvideo.records import FRAGMENTS, invalid_argument, stream_of
from nimbus.services.registry import RequestContext, Service

kinesis_video_archived_media = Service(
    "kinesis-video-archived-media", validation_error="InvalidArgumentException"
)

DEFAULT_FRAGMENTS = 1000
DEFAULT_IMAGES = 25
MIN_SAMPLING_MS = 200


def archived_stream(ctx: RequestContext, connection: Any, request: dict[str, Any]) -> Row[Any]:
    stream = stream_of(ctx, connection, request)
    if stream.retention_hours == 0:
        raise AwsError(
            "NoDataRetentionException", f"The stream {stream.name} keeps no data (retention 0).", 400
        )
    return stream


def _ms(when: datetime) -> int:
    return int(when.timestamp() * 1000)


def fragments_in_range(stream: Row[Any], selector_type: str, start: datetime, end: datetime) -> Any:
    column = FRAGMENTS.c.server_ms if selector_type == "SERVER_TIMESTAMP" else FRAGMENTS.c.producer_ms
    if end < start:
        raise invalid_argument("EndTimestamp must not be before StartTimestamp.")
    return select(FRAGMENTS).where(
        FRAGMENTS.c.stream_arn == stream.arn,
        FRAGMENTS.c.server_ms >= retained_since_ms(stream),
        column >= _ms(start) - FRAGMENTS.c.duration_ms,  # a fragment that overlaps the range's start
        column <= _ms(end),
    )


@kinesis_video_archived_media.operation
def list_fragments(ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
    """Fragments come in the order they arrived."""
    limit = request.get("MaxResults", DEFAULT_FRAGMENTS)
    with ctx.storage.database.engine.connect() as connection:
        stream = archived_stream(ctx, connection, request)
        selector = request.get("FragmentSelector")
        if selector:
            span = selector["TimestampRange"]
            query = fragments_in_range(
                stream, selector["FragmentSelectorType"], span["StartTimestamp"], span["EndTimestamp"]
            )
        else:
            query = select(FRAGMENTS).where(
                FRAGMENTS.c.stream_arn == stream.arn, FRAGMENTS.c.server_ms >= retained_since_ms(stream)
            )
        if request.get("NextToken"):
            after = fragment_row_id(request["NextToken"])
            if after is None:
                raise invalid_argument("NextToken is not one ListFragments gave.")
            query = query.where(FRAGMENTS.c.id > after)
        rows = connection.execute(query.order_by(FRAGMENTS.c.id).limit(limit + 1)).all()
    output: dict[str, Any] = {
        "Fragments": [
            {
                "FragmentNumber": fragment_number(row.id),
                "FragmentSizeInBytes": row.size,
                "ProducerTimestamp": datetime.fromtimestamp(row.producer_ms / 1000, UTC),
                "ServerTimestamp": datetime.fromtimestamp(row.server_ms / 1000, UTC),
                "FragmentLengthInMilliseconds": row.duration_ms,
            }
            for row in rows[:limit]
        ]
    }
    if len(rows) > limit:
        output["NextToken"] = fragment_number(rows[limit - 1].id)
    return output


@kinesis_video_archived_media.operation
def get_media_for_fragment_list(ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
    wanted = [(number, fragment_row_id(number)) for number in request["Fragments"]]
    with ctx.storage.database.engine.connect() as connection:
        stream = archived_stream(ctx, connection, request)
        rows = {
            row.id: row
            for row in connection.execute(
                select(FRAGMENTS).where(
                    FRAGMENTS.c.stream_arn == stream.arn,
                    FRAGMENTS.c.id.in_([row_id for _, row_id in wanted if row_id is not None]),
                )
            )
        }
    missing = [number for number, row_id in wanted if row_id not in rows]
    if missing:
        raise AwsError("ResourceNotFoundException", f"The fragment {missing[0]} is not in the stream.", 404)
    storage = ctx.storage

    def chunks() -> Any:
        for _, row_id in wanted:
            row = rows[row_id]  # type: ignore[index]
            yield chunk(
                storage,
                row,
                {
                    "AWS_KINESISVIDEO_FRAGMENT_NUMBER": fragment_number(row.id),
                    "AWS_KINESISVIDEO_SERVER_SIDE_TIMESTAMP": seconds(row.server_ms),
                    "AWS_KINESISVIDEO_PRODUCER_SIDE_TIMESTAMP": seconds(row.producer_ms),
                },
            )

    return {"ContentType": stream.media_type or "video/webm", "Payload": chunks()}


@kinesis_video_archived_media.operation
def get_images(ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
    """Images are decoded from the fragments' frames (the first frame at or after each sampling time);
    a time with no frame within one sampling interval has Error NO_MEDIA."""
    interval = request.get("SamplingInterval", 3000)
    if interval < MIN_SAMPLING_MS:
        raise invalid_argument(f"SamplingInterval must be at least {MIN_SAMPLING_MS} ms.")
    selector_type = request["ImageSelectorType"]
    start, end = request["StartTimestamp"], request["EndTimestamp"]
    limit = min(request.get("MaxResults", DEFAULT_IMAGES), DEFAULT_IMAGES)
    first_ms = int(request["NextToken"]) if str(request.get("NextToken", "")).isdigit() else _ms(start)
    with ctx.storage.database.engine.connect() as connection:
        stream = archived_stream(ctx, connection, request)
        rows = connection.execute(
            fragments_in_range(stream, selector_type, start, end).order_by(FRAGMENTS.c.id)
        ).all()
    times = list(range(first_ms, _ms(end) + 1, interval))[: limit + 1]
    frames = _frames_by_time(ctx, rows, selector_type, interval)
    quality = int((request.get("FormatConfig") or {}).get("JPEGQuality", "80"))
    images = []
    for when in times[:limit]:
        image: dict[str, Any] = {"TimeStamp": datetime.fromtimestamp(when / 1000, UTC)}
        found = next(((at, pixels) for at, pixels in frames if when <= at < when + interval), None)
        if found is None:
            image["Error"] = "NO_MEDIA"
        else:
            image["ImageContent"] = base64.b64encode(
                encode_picture(found[1], request["Format"], quality, _size(request, found[1]))
            ).decode()
        images.append(image)
    output: dict[str, Any] = {"Images": images}
    if len(times) > limit:
        output["NextToken"] = str(times[limit])
    return output


def _frames_by_time(
    ctx: RequestContext, rows: list[Row[Any]], selector_type: str, interval: int
) -> list[Any]:
    """(time in ms, RGB pixels) of the frames, sampled at the interval, in the selector's clock."""
    found = []
    for row in rows:
        base = row.server_ms if selector_type == "SERVER_TIMESTAMP" else row.producer_ms
        try:
            for frame in fragment_frames(fragment_path(ctx.storage, row), interval):
                found.append((base + round(frame.offset_ms), frame.pixels))
        except (UndecodableMedia, OSError):
            continue
    return found


def _size(request: dict[str, Any], pixels: Any) -> tuple[int, int] | None:
    width, height = request.get("WidthPixels"), request.get("HeightPixels")
    if width is None and height is None:
        return None
    source_height, source_width = pixels.shape[:2]
    if width is None:
        width = round(source_width * height / source_height)
    if height is None:
        height = round(source_height * width / source_width)
    return int(width), int(height)


# the modules of the other operations register themselves on import
from nimbus.services.kinesisvideo_archived import clips, sessions  # noqa: E402, F401
