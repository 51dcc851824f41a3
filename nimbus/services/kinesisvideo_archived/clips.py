"""GetClip: the fragments of a time range as one fragmented MP4 (H.264 video), timed on the
producer's clock from the first fragment."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from nimbus.errors import AwsError
from nimbus.services.kinesisvideo.records import FRAGMENTS
from nimbus.services.kinesisvideo_archived import (
    archived_stream,
    fragments_in_range,
    kinesis_video_archived_media,
)
from nimbus.services.kinesisvideo_archived.remux import initialization, segment
from nimbus.services.registry import RequestContext

MAX_FRAGMENTS = 200  # AWS's limits on one clip
MAX_BYTES = 100 * 1024 * 1024


@kinesis_video_archived_media.operation
def get_clip(ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
    """The H.264 track only (audio tracks are left out)."""
    selector = request["ClipFragmentSelector"]
    span = selector["TimestampRange"]
    with ctx.storage.database.engine.connect() as connection:
        stream = archived_stream(ctx, connection, request)
        query = fragments_in_range(
            stream, selector["FragmentSelectorType"], span["StartTimestamp"], span["EndTimestamp"]
        )
        rows = connection.execute(query.order_by(FRAGMENTS.c.id).limit(MAX_FRAGMENTS + 1)).all()
    if not rows:
        raise AwsError("ResourceNotFoundException", "No fragments were found in the clip's time range.", 404)
    if len(rows) > MAX_FRAGMENTS or sum(row.size for row in rows) > MAX_BYTES:
        raise AwsError(
            "ClientLimitExceededException",
            f"A clip holds at most {MAX_FRAGMENTS} fragments and {MAX_BYTES // 1024 // 1024} MB: "
            "ask for a shorter time range.",
            400,
        )
    storage = ctx.storage
    _, init = initialization(storage, rows[0])  # refuses a stream it cannot package before answering
    origin = rows[0].producer_ms

    def parts() -> Iterator[bytes]:
        yield init
        for row in rows:
            yield segment(storage, row, row.producer_ms - origin)

    return {"ContentType": "video/mp4", "Payload": parts()}
