"""Running stream processors: one thread per session follows its video stream's fragments as they
arrive, decodes frames at NIMBUS_STREAM_SAMPLE_FPS (one per fragment while it is more than 2 s behind
the live edge, until it catches up) and hands them to the processor's analysis (face search, or the
connected-home labels). A session's progress (the last fragment done) is in its row, and the node
running it holds its lease (nimbus/services/leases.py): when that node dies (or restarts), the node that
takes the expired lease over resumes the session where it was, so each runs on exactly one node."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, func, select, update
from sqlalchemy.engine import Row

from nimbus.config import Settings
from nimbus.engines.media.frames import DecodedFrame, UndecodableMedia, fragment_frames
from nimbus.services.arrivals import arrivals, wait_for_arrival
from nimbus.services.job_runners import RunnerPerStorage
from nimbus.services.kinesisvideo.fragments import fragment_path, fragment_row_id
from nimbus.services.kinesisvideo.records import FRAGMENTS, STREAMS
from nimbus.services.leases import LeasedStops, resource_name
from nimbus.services.rekognition import rekognition
from nimbus.services.rekognition.errors import invalid_parameter
from nimbus.services.rekognition.stream_analysis import Analysis, ProcessorFailure
from nimbus.services.rekognition.stream_face_search import FaceSearchAnalysis
from nimbus.services.rekognition.stream_labels import LabelAnalysis
from nimbus.services.rekognition.stream_processor_records import CONNECTED_HOME, PROCESSORS, kind
from nimbus.storage import Storage

log = logging.getLogger("nimbus.rekognition.stream_processors")

POLL_S = 1.0  # how often an idle session looks whether it was stopped or its input went away
BATCH = 10
CATCH_UP_MS = 2000
LEASE_KIND = "rekognition/stream-processor"  # leases name a session rekognition/stream-processor/<arn>


def start_position(connection: Connection, processor: Row[Any], selector: dict[str, Any] | None) -> int:
    """The fragment row id a session starts after: the one named by KVSStreamStartSelector, else the
    latest fragment (a session analyses what arrives from now on)."""
    stream_arn = processor.request["Input"]["KinesisVideoStream"]["Arn"]
    chosen = (selector or {}).get("KVSStreamStartSelector") or {}
    if chosen.get("FragmentNumber"):
        row_id = fragment_row_id(chosen["FragmentNumber"])
        if row_id is None:
            raise invalid_parameter("KVSStreamStartSelector.FragmentNumber is not a fragment of the stream.")
        return row_id - 1
    if chosen.get("ProducerTimestamp") is not None:
        first = connection.execute(
            select(func.min(FRAGMENTS.c.id)).where(
                FRAGMENTS.c.stream_arn == stream_arn, FRAGMENTS.c.producer_ms >= chosen["ProducerTimestamp"]
            )
        ).scalar()
        if first is not None:
            return int(first) - 1
    latest = connection.execute(
        select(func.max(FRAGMENTS.c.id)).where(FRAGMENTS.c.stream_arn == stream_arn)
    ).scalar()
    return int(latest or 0)


def _set_status(storage: Storage, arn: str, status: str, message: str | None = None, **session: Any) -> None:
    with storage.database.engine.begin() as connection:
        processor = connection.execute(select(PROCESSORS).where(PROCESSORS.c.arn == arn)).first()
        if processor is None:
            return
        values: dict[str, Any] = {
            "status": status,
            "status_message": message,
            "updated_at": datetime.now(UTC),
        }
        if session:
            values["session"] = {**(processor.session or {}), **session}
        connection.execute(update(PROCESSORS).where(PROCESSORS.c.arn == arn).values(**values))


class StreamProcessorRunner:
    """Runs the sessions whose leases this node holds; its heartbeat resumes those of nodes that died."""

    def __init__(self, storage: Storage) -> None:
        self.storage = storage
        self._stops = LeasedStops(storage, LEASE_KIND)  # a stop asked through any node reaches the session
        self._take_over(storage)
        self._stops.node.settle_every_beat(self._take_over)

    def start(self, arn: str) -> None:
        stop = self._stops.start((arn,))
        threading.Thread(
            target=self._session, args=(arn, stop), name=f"stream-processor {arn}", daemon=True
        ).start()

    def stop(self, arn: str) -> None:
        self._stops.stop((arn,))

    def _take_over(self, storage: Storage) -> None:
        """Sessions whose node died (their lease expired): running ones resume here, where they were;
        those being stopped are stopped."""
        with storage.database.engine.connect() as connection:
            active = connection.execute(
                select(PROCESSORS.c.arn, PROCESSORS.c.status, PROCESSORS.c.updated_at).where(
                    PROCESSORS.c.status.in_(("STARTING", "RUNNING", "STOPPING"))
                )
            ).all()
        node = self._stops.node
        stopping = [((arn,), updated) for arn, status, updated in active if status == "STOPPING"]
        for (arn,) in node.orphans(LEASE_KIND, stopping):
            _set_status(storage, arn, "STOPPED")
        running = [((arn,), updated) for arn, status, updated in active if status != "STOPPING"]
        for (arn,) in node.orphans(LEASE_KIND, running, keep=True):
            self.start(arn)

    def _session(self, arn: str, stop: threading.Event) -> None:
        analysis: Analysis | None = None
        status, message = "STOPPED", None
        try:
            with self.storage.database.engine.connect() as connection:
                processor = connection.execute(select(PROCESSORS).where(PROCESSORS.c.arn == arn)).one()
            analysis = _analysis(self.storage, processor)
            if kind(processor) != CONNECTED_HOME:  # label detection stays STARTING while it runs, as in AWS
                _set_status(self.storage, arn, "RUNNING")
            self._follow(processor, analysis, stop)
        except ProcessorFailure as failure:
            status, message = "FAILED", str(failure)
        except Exception as error:  # a bug in Nimbus must still end the session, never leave it running
            log.exception("stream processor %s failed", arn)
            status, message = "FAILED", f"InternalServerError: {error!r}"
        try:
            if not self._stops.node.holds(resource_name(LEASE_KIND, (arn,))):
                return  # its lease lapsed (this node paused): the node that took it over runs the session
            if analysis is not None:
                try:
                    analysis.finish(status, message)
                except ProcessorFailure as failure:
                    status, message = "FAILED", str(failure)
            _set_status(self.storage, arn, status, message)
        finally:
            self._stops.finish((arn,))

    def _follow(self, processor: Row[Any], analysis: Analysis, stop: threading.Event) -> None:
        stream_arn = processor.request["Input"]["KinesisVideoStream"]["Arn"]
        after = int(processor.session["After"])
        interval_ms = 1000.0 / Settings().stream_sample_fps
        limit_ms = _duration_limit_ms(processor)
        processed_ms = int(processor.session.get("ProcessedMillis", 0))
        while not stop.is_set() and (limit_ms is None or processed_ms < limit_ms):
            seen = arrivals(stream_arn)
            with self.storage.database.engine.connect() as connection:
                if (
                    connection.execute(select(STREAMS.c.arn).where(STREAMS.c.arn == stream_arn)).first()
                    is None
                ):
                    raise ProcessorFailure("The input Kinesis video stream no longer exists.")
                fragments = connection.execute(
                    select(FRAGMENTS)
                    .where(FRAGMENTS.c.stream_arn == stream_arn, FRAGMENTS.c.id > after)
                    .order_by(FRAGMENTS.c.id)
                    .limit(BATCH)
                ).all()
            if not fragments:
                wait_for_arrival(stream_arn, seen, time.monotonic() + POLL_S)
                continue
            for fragment in fragments:
                if stop.is_set():
                    return
                analysis.fragment(fragment, _frames(self.storage, fragment, _catch_up(fragment, interval_ms)))
                after = fragment.id
                processed_ms += fragment.duration_ms
                _save_progress(self.storage, processor.arn, after, processed_ms)
                if limit_ms is not None and processed_ms >= limit_ms:
                    return


def _save_progress(storage: Storage, arn: str, after: int, processed_ms: int) -> None:
    with storage.database.engine.begin() as connection:
        processor = connection.execute(select(PROCESSORS.c.session).where(PROCESSORS.c.arn == arn)).first()
        if processor is not None:
            session = {**(processor.session or {}), "After": after, "ProcessedMillis": processed_ms}
            connection.execute(update(PROCESSORS).where(PROCESSORS.c.arn == arn).values(session=session))


def _catch_up(fragment: Row[Any], interval_ms: float) -> float:
    """The sampling interval for a fragment: a session more than CATCH_UP_MS behind the live edge
    analyses only the fragment's first frame until it has caught up, so its lag stays bounded."""
    behind_ms = time.time() * 1000 - fragment.server_ms - fragment.duration_ms
    return interval_ms if behind_ms <= CATCH_UP_MS else max(interval_ms, fragment.duration_ms + 1.0)


def _frames(storage: Storage, fragment: Row[Any], interval_ms: float) -> list[DecodedFrame]:
    try:
        return list(fragment_frames(fragment_path(storage, fragment), interval_ms))
    except (UndecodableMedia, OSError):  # expired or undecodable: the session goes on with the next
        return []


def _duration_limit_ms(processor: Row[Any]) -> int | None:
    """Label detection sessions end after MaxDurationInSeconds of video (10 by default)."""
    if kind(processor) != CONNECTED_HOME:
        return None
    stop = (processor.session or {}).get("StopSelector") or {}
    return int(stop.get("MaxDurationInSeconds", 10)) * 1000


def _analysis(storage: Storage, processor: Row[Any]) -> Analysis:
    make: Callable[[Storage, Row[Any]], Analysis] = (
        LabelAnalysis if kind(processor) == CONNECTED_HOME else FaceSearchAnalysis
    )
    return make(storage, processor)


stream_processor_runner: RunnerPerStorage[StreamProcessorRunner] = RunnerPerStorage(
    StreamProcessorRunner, lambda storage: None
)
"""This process's runner for a storage; made at server start, which resumes the sessions of stopped nodes."""

rekognition.on_startup(stream_processor_runner)
