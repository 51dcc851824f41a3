"""PutMedia as Kinesis Video Streams defines it: a chunked MKV upload read fragment by fragment
(each cluster one fragment), answered by a JSON acknowledgement per event: BUFFERING when a fragment
begins, RECEIVED when it is whole, PERSISTED once its file and row are committed (streams with
retention), ERROR with AWS's error id when it cannot be taken, which ends the session.

No HTTP here: the gateway hands in the headers and a ``read(n)`` over the body, and sends each
acknowledgement ``acknowledgements`` yields."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from sqlalchemy.engine import Row

from nimbus.engines.media.ebml import EbmlError, TruncatedError
from nimbus.engines.media.matroska import BufferingStarted, Fragment, FragmentReader, MkvError
from nimbus.errors import AwsError
from nimbus.services.kinesisvideo.fragments import fragment_number, store_fragment
from nimbus.services.kinesisvideo.records import find_stream, invalid_argument
from nimbus.storage import Storage

log = logging.getLogger("nimbus.kinesisvideo.ingest")

MAX_FRAGMENT_MS = 10_000
MAX_FRAGMENT_BYTES = 50 * 1024 * 1024
STREAM_READ_ERROR = 4000
FRAGMENT_TOO_LONG = 4002
TIMECODE_WENT_BACK = 4004
INVALID_PRODUCER_TIMESTAMP = 4007
STREAM_DELETED = 4008
INTERNAL_ERROR = 5000


@dataclass(frozen=True)
class PutMediaSession:
    storage: Storage
    stream: Row[Any]
    relative: bool  # x-amzn-fragment-timecode-type RELATIVE: timecodes count from the producer's start
    producer_start_ms: int

    def acknowledgements(self, read: Callable[[int], bytes]) -> Iterator[dict[str, Any]]:
        previous: int | None = None
        timecode: int | None = None
        arrived_ms = 0  # server time when the fragment began to arrive
        try:
            for event in FragmentReader(read, MAX_FRAGMENT_BYTES).events():
                if isinstance(event, BufferingStarted):
                    timecode = event.timecode
                    if previous is not None and timecode <= previous:
                        yield _error(timecode, TIMECODE_WENT_BACK)
                        return
                    arrived_ms = int(time.time() * 1000)
                    yield {"EventType": "BUFFERING", "FragmentTimecode": timecode}
                    continue
                previous = event.timecode
                problem = _limits(event)
                if problem is not None:
                    yield _error(event.timecode, problem)
                    return
                for ack in self._keep(event, arrived_ms):
                    yield ack
                    if ack["EventType"] == "ERROR":
                        return
        except MkvError as error:
            yield _error(timecode, error.error_id)
        except TruncatedError:
            yield _error(timecode, STREAM_READ_ERROR)
        except EbmlError:
            yield _error(timecode, 4006)

    def _keep(self, fragment: Fragment, arrived_ms: int) -> Iterator[dict[str, Any]]:
        producer_ms = round(fragment.start_ms) + (self.producer_start_ms if self.relative else 0)
        if producer_ms < 0:
            yield _error(fragment.timecode, INVALID_PRODUCER_TIMESTAMP)
            return
        stored = store_fragment(self.storage, self.stream.arn, fragment, producer_ms, arrived_ms)
        if stored is None:
            yield _error(fragment.timecode, STREAM_DELETED)
            return
        number = fragment_number(stored.id)
        yield {"EventType": "RECEIVED", "FragmentTimecode": fragment.timecode, "FragmentNumber": number}
        if self.stream.retention_hours > 0:
            yield {"EventType": "PERSISTED", "FragmentTimecode": fragment.timecode, "FragmentNumber": number}


def _limits(fragment: Fragment) -> int | None:
    return FRAGMENT_TOO_LONG if fragment.duration_ms > MAX_FRAGMENT_MS else None


def _error(timecode: int | None, error_id: int) -> dict[str, Any]:
    ack: dict[str, Any] = {"EventType": "ERROR", "ErrorId": error_id}
    if timecode is not None:
        ack["FragmentTimecode"] = timecode
    return ack


def open_put_media(
    storage: Storage, account_id: str, region: str, headers: dict[str, str]
) -> PutMediaSession:
    """Checks PutMedia's headers (x-amzn-stream-name or -arn, x-amzn-fragment-timecode-type,
    x-amzn-producer-start-timestamp) before any media is read."""
    kind = headers.get("x-amzn-fragment-timecode-type", "")
    if kind not in ("ABSOLUTE", "RELATIVE"):
        raise invalid_argument("x-amzn-fragment-timecode-type must be ABSOLUTE or RELATIVE.")
    start_text = headers.get("x-amzn-producer-start-timestamp")
    try:
        start_ms = round(float(start_text) * 1000) if start_text is not None else 0
    except ValueError:
        raise invalid_argument("x-amzn-producer-start-timestamp must be seconds since the epoch.") from None
    if kind == "RELATIVE" and start_text is None:
        raise invalid_argument("x-amzn-producer-start-timestamp is required with RELATIVE timecodes.")
    with storage.database.engine.connect() as connection:
        stream = find_stream(
            connection,
            account_id,
            region,
            headers.get("x-amzn-stream-name"),
            headers.get("x-amzn-stream-arn"),
        )
    if stream.status != "ACTIVE":
        raise AwsError("ResourceNotFoundException", f"The stream {stream.name} is not active.", 404)
    return PutMediaSession(storage, stream, kind == "RELATIVE", start_ms)
