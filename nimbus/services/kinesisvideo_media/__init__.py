"""Kinesis Video Streams media: GetMedia, the stream's fragments as MKV chunks from a starting point,
then live as they arrive."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import suppress
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.engine import Row

from nimbus.services.arrivals import arrivals, wait_for_arrival
from nimbus.services.kinesisvideo.fragments import (
    chunk,
    fragment_number,
    fragment_row_id,
    retained_since_ms,
    seconds,
)
from nimbus.services.kinesisvideo.records import FRAGMENTS, STREAMS, invalid_argument, stream_of
from nimbus.services.registry import RequestContext, Service
from nimbus.storage import Storage

kinesis_video_media = Service("kinesis-video-media", validation_error="InvalidArgumentException")

IDLE_END_S = 5.0  # a GetMedia that has sent everything ends after this long without a new fragment
CONTENT_TYPE = "video/webm"


def _start_after(connection: Any, stream: Row[Any], selector: dict[str, Any]) -> int:
    """The row id the chunks start after."""
    kind = selector["StartSelectorType"]
    retained = (FRAGMENTS.c.stream_arn == stream.arn, FRAGMENTS.c.server_ms >= retained_since_ms(stream))
    if kind in ("FRAGMENT_NUMBER", "CONTINUATION_TOKEN"):
        text = selector.get("AfterFragmentNumber" if kind == "FRAGMENT_NUMBER" else "ContinuationToken")
        row_id = fragment_row_id(text or "")
        if row_id is None:
            raise invalid_argument(f"{kind} needs a fragment number this stream gave.")
        return row_id if kind == "CONTINUATION_TOKEN" else row_id - 1
    if kind == "NOW":
        return int(
            connection.execute(
                select(func.max(FRAGMENTS.c.id)).where(FRAGMENTS.c.stream_arn == stream.arn)
            ).scalar()
            or 0
        )
    if kind == "EARLIEST":
        return int(connection.execute(select(func.min(FRAGMENTS.c.id)).where(*retained)).scalar() or 1) - 1
    if selector.get("StartTimestamp") is None:
        raise invalid_argument(f"{kind} needs a StartTimestamp.")
    column = FRAGMENTS.c.server_ms if kind == "SERVER_TIMESTAMP" else FRAGMENTS.c.producer_ms
    since = int(selector["StartTimestamp"].timestamp() * 1000)
    first = connection.execute(select(func.min(FRAGMENTS.c.id)).where(*retained, column >= since)).scalar()
    if first is None:
        return int(
            connection.execute(
                select(func.max(FRAGMENTS.c.id)).where(FRAGMENTS.c.stream_arn == stream.arn)
            ).scalar()
            or 0
        )
    return int(first) - 1


@kinesis_video_media.operation
def get_media(ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
    """The stream ends once every fragment was sent and none arrived for 5 seconds; continue with the
    last chunk's AWS_KINESISVIDEO_CONTINUATION_TOKEN, as after any interruption."""
    with ctx.storage.database.engine.connect() as connection:
        stream = stream_of(ctx, connection, request)
        after = _start_after(connection, stream, request["StartSelector"])
    return {
        "ContentType": stream.media_type or CONTENT_TYPE,
        "Payload": _chunks(ctx.storage, stream.arn, after),
    }


def _chunks(storage: Storage, stream_arn: str, after: int) -> Iterator[bytes]:
    idle_until = time.monotonic() + IDLE_END_S
    while True:
        seen = arrivals(stream_arn)
        with storage.database.engine.connect() as connection:
            stream = connection.execute(select(STREAMS).where(STREAMS.c.arn == stream_arn)).first()
            if stream is None:
                return
            fragments = connection.execute(
                select(FRAGMENTS)
                .where(FRAGMENTS.c.stream_arn == stream_arn, FRAGMENTS.c.id > after)
                .order_by(FRAGMENTS.c.id)
                .limit(50)
            ).all()
            latest = connection.execute(
                select(func.max(FRAGMENTS.c.server_ms)).where(FRAGMENTS.c.stream_arn == stream_arn)
            ).scalar()
        for fragment in fragments:
            number = fragment_number(fragment.id)
            with suppress(FileNotFoundError):  # expired while being sent: the next one follows
                yield chunk(
                    storage,
                    fragment,
                    {
                        "AWS_KINESISVIDEO_FRAGMENT_NUMBER": number,
                        "AWS_KINESISVIDEO_SERVER_TIMESTAMP": seconds(fragment.server_ms),
                        "AWS_KINESISVIDEO_PRODUCER_TIMESTAMP": seconds(fragment.producer_ms),
                    },
                    {
                        "AWS_KINESISVIDEO_MILLIS_BEHIND_NOW": str(max(0, (latest or 0) - fragment.server_ms)),
                        "AWS_KINESISVIDEO_CONTINUATION_TOKEN": number,
                    },
                )
            after = fragment.id
        if fragments:
            idle_until = time.monotonic() + IDLE_END_S
            continue
        if time.monotonic() >= idle_until:
            return
        wait_for_arrival(stream_arn, seen, idle_until)
