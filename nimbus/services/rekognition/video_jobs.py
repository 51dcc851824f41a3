"""Stored-video jobs, shared by every Start*/Get* pair: the job row, its idempotency, the background
runner that analyses the video, and the paged Get* answer.

A Start* call checks the S3 object and records the job IN_PROGRESS; one runner thread per server
then decodes the video (OpenCV), looks at frames sampled at ``NIMBUS_VIDEO_SAMPLE_FPS`` (default 1 per
second; shot detection looks at every frame) and stores the result items in the job's row:
SUCCEEDED, or FAILED with a StatusMessage saying why, and publishes the completion message to the
job's NotificationChannel. While it runs, StatusMessage shows how far it has got. A server that
starts fails the jobs an earlier process left IN_PROGRESS (and notifies their channels).
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.engine import Row

from nimbus.config import Settings
from nimbus.engines.vision.video import InvalidVideoError, VideoFrame, VideoInfo, frames, probe_video
from nimbus.errors import AwsError
from nimbus.services.job_runners import RunnerPerStorage
from nimbus.services.leases import lease_node, resource_name
from nimbus.services.registry import RequestContext
from nimbus.services.rekognition import rekognition
from nimbus.services.rekognition.images import S3_OBJECT_MESSAGE, invalid_s3_object
from nimbus.services.rekognition.job_notifications import check_notification_channel, notify_job_finished
from nimbus.services.rekognition.pagination import page_start
from nimbus.services.rekognition.work_queue import WorkQueue
from nimbus.services.s3.records import find_object
from nimbus.storage import Storage
from nimbus.storage.objects import StorageError
from nimbus.storage.rekognition_jobs_schema import VideoJobRecord

log = logging.getLogger("nimbus.rekognition.video")

JOBS = VideoJobRecord.__table__
MAX_VIDEO_BYTES = 10 * 1024**3  # AWS: stored videos up to 10 GB
MAX_DURATION_MS = 6 * 3600 * 1000  # AWS: and up to 6 hours
DEFAULT_MAX_RESULTS = 1000
INTERRUPTED = "The Nimbus node running the job stopped (restarted or died)"
LEASE_KIND = "rekognition/video-job"  # leases name a job rekognition/video-job/<job id>
PROGRESS_EVERY_MS = 10_000  # of video, between updates of StatusMessage

Analysis = Callable[["VideoSource", dict[str, Any]], dict[str, list[dict[str, Any]]]]
ANALYSES: dict[str, Analysis] = {}  # operation ("LabelDetection", ...) -> what its job does


def video_analysis(operation: str) -> Callable[[Analysis], Analysis]:
    """Registers what a job of ``operation`` does with its video: returns its result items in time
    order, by AggregateBy ("TIMESTAMPS", plus "SEGMENTS" where AWS offers it)."""

    def register(analysis: Analysis) -> Analysis:
        ANALYSES[operation] = analysis
        return analysis

    return register


@dataclass(frozen=True)
class VideoSource:
    """The job's video in Nimbus S3, read afresh from its file for each pass over it."""

    storage: Storage
    job: Row[Any]
    info: VideoInfo
    sample_fps: float

    def path(self) -> Path:
        s3_object = self.job.request["Video"]["S3Object"]
        return self.storage.objects.object_file(s3_object["Bucket"], s3_object["Name"])

    @property
    def sample_interval_ms(self) -> float:
        return 1000.0 / self.sample_fps

    def sampled_frames(self) -> Iterator[VideoFrame]:
        """Frames at the sampling rate."""
        yield from self._reporting(frames(self.path(), self.sample_fps))

    def every_frame(self, size: tuple[int, int]) -> Iterator[VideoFrame]:
        """Every frame, scaled to ``size`` (width, height)."""
        yield from self._reporting(frames(self.path(), None, size))

    def _reporting(self, decoded: Iterator[VideoFrame]) -> Iterator[VideoFrame]:
        """The frames, StatusMessage telling how far the job has got as they go by."""
        next_report_ms = PROGRESS_EVERY_MS
        for frame in decoded:
            if frame.timestamp_ms >= next_report_ms:
                _set_progress(self.storage, self.job.job_id, frame.timestamp_ms, self.info.duration_ms)
                next_report_ms += PROGRESS_EVERY_MS
            yield frame


def s3_object_of(request: dict[str, Any]) -> dict[str, Any]:
    return (request.get("Video") or {}).get("S3Object") or {}


def start_video_job(ctx: RequestContext, operation: str, request: dict[str, Any]) -> dict[str, Any]:
    """Records the job (or finds the one this ClientRequestToken started) and queues it."""
    check_notification_channel(ctx, request.get("NotificationChannel"))
    _check_video_object(ctx, s3_object_of(request))
    token = request.get("ClientRequestToken")
    comparable = {name: value for name, value in request.items() if name != "ClientRequestToken"}
    with ctx.storage.database.engine.begin() as connection:
        if token:
            earlier = connection.execute(
                select(JOBS.c.job_id, JOBS.c.request).where(
                    JOBS.c.account_id == ctx.caller.account_id,
                    JOBS.c.region == ctx.region,
                    JOBS.c.operation == operation,
                    JOBS.c.client_request_token == token,
                )
            ).first()
            if earlier is not None:
                if {k: v for k, v in earlier.request.items() if k != "ClientRequestToken"} != comparable:
                    raise AwsError(
                        "IdempotentParameterMismatchException",
                        "ClientRequestToken was used with different parameters",
                        400,
                    )
                return {"JobId": earlier.job_id}
        job_id = secrets.token_hex(32)  # AWS's job ids are 64 hex digits
        connection.execute(
            insert(JOBS).values(
                job_id=job_id,
                account_id=ctx.caller.account_id,
                region=ctx.region,
                operation=operation,
                client_request_token=token,
                request=request,
                status="IN_PROGRESS",
                status_message=None,
                video_metadata=None,
                results=None,
                created_at=datetime.now(UTC),
                completed_at=None,
            )
        )
    video_runner(ctx.storage).submit(job_id)
    return {"JobId": job_id}


def _check_video_object(ctx: RequestContext, s3_object: dict[str, Any]) -> None:
    bucket, key = s3_object.get("Bucket"), s3_object.get("Name")
    if not bucket or not key or s3_object.get("Version") not in (None, "null"):  # buckets are unversioned
        raise invalid_s3_object()
    try:
        record = find_object(ctx, bucket, key)
    except AwsError:  # NoSuchBucket, NoSuchKey
        raise invalid_s3_object() from None
    if record.size > MAX_VIDEO_BYTES:
        raise video_too_large()
    try:  # the header tells the duration at once; a file that is no video fails its job instead
        duration_ms = probe_video(ctx.storage.objects.object_file(bucket, key)).duration_ms
    except (InvalidVideoError, StorageError, OSError):
        return
    if duration_ms > MAX_DURATION_MS:
        raise video_too_large()


def video_too_large() -> AwsError:
    return AwsError("VideoTooLargeException", "Videos can be up to 10 GB and 6 hours long.", 400)


def find_video_job(ctx: RequestContext, operation: str, job_id: str) -> Row[Any]:
    """The caller's job of this kind; a job id of another kind is unknown here, as in AWS."""
    with ctx.storage.database.engine.connect() as connection:
        job = connection.execute(
            select(JOBS).where(
                JOBS.c.job_id == job_id,
                JOBS.c.account_id == ctx.caller.account_id,
                JOBS.c.region == ctx.region,
                JOBS.c.operation == operation,
            )
        ).first()
    if job is None:
        raise AwsError("ResourceNotFoundException", f"The job id: {job_id} does not exist", 400)
    return job


def video_job_output(
    job: Row[Any], aggregate_by: str = "TIMESTAMPS"
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """What every Get* answers (status, metadata, the job's Video and JobTag), and all its result
    items for ``aggregate_by`` (empty until the job succeeded); page them with ``paged``."""
    output: dict[str, Any] = {"JobStatus": job.status, "JobId": job.job_id, "Video": job.request["Video"]}
    if job.status_message:
        output["StatusMessage"] = job.status_message
    if job.request.get("JobTag"):
        output["JobTag"] = job.request["JobTag"]
    if job.video_metadata:
        output["VideoMetadata"] = job.video_metadata["Video"]
    return output, list((job.results or {}).get(aggregate_by) or [])


def paged(
    output: dict[str, Any], items_name: str, items: list[Any], request: dict[str, Any]
) -> dict[str, Any]:
    """One page of ``items`` (MaxResults, default 1000) from NextToken, and the token for the next."""
    start = page_start(request.get("NextToken"), len(items))
    end = start + request.get("MaxResults", DEFAULT_MAX_RESULTS)
    output[items_name] = items[start:end]
    if end < len(items):
        output["NextToken"] = str(end)
    return output


def video_metadata_shape(info: VideoInfo) -> dict[str, Any]:
    return {
        "Codec": info.codec,
        "DurationMillis": info.duration_ms,
        "Format": info.format,
        "FrameRate": info.frame_rate,
        "FrameHeight": info.height,
        "FrameWidth": info.width,
    }


def timestamp_segments(items: list[dict[str, Any]], member: str, source: VideoSource) -> list[dict[str, Any]]:
    """Items of one name at consecutive sampled frames merged into one segment (AggregateBy SEGMENTS):
    it starts at the first frame, ends one sampling interval after the last (or at the video's end),
    and keeps the highest confidence seen, without Instances."""
    gap_ms = 1.5 * source.sample_interval_ms  # a frame skipped means the label left the picture
    open_segments: dict[str, dict[str, Any]] = {}
    segments: list[dict[str, Any]] = []
    for item in items:
        found = {name: value for name, value in item[member].items() if name != "Instances"}
        segment = open_segments.get(found["Name"])
        if segment is None or item["Timestamp"] - segment["last"] > gap_ms:
            segment = open_segments[found["Name"]] = {"first": item["Timestamp"], "best": found}
            segments.append(segment)
        segment["last"] = item["Timestamp"]
        if found["Confidence"] > segment["best"]["Confidence"]:
            segment["best"] = found
    shaped = []
    for segment in segments:
        end = min(source.info.duration_ms, round(segment["last"] + source.sample_interval_ms))
        shaped.append(
            {
                "Timestamp": segment["first"],
                member: segment["best"],
                "StartTimestampMillis": segment["first"],
                "EndTimestampMillis": end,
                "DurationMillis": max(0, end - segment["first"]),
            }
        )
    return shaped


def _set_progress(storage: Storage, job_id: str, done_ms: int, duration_ms: int) -> None:
    message = f"Analysed {done_ms / 1000:.0f} of {duration_ms / 1000:.0f} seconds of video"
    with storage.database.engine.begin() as connection:
        connection.execute(
            update(JOBS)
            .where(JOBS.c.job_id == job_id, JOBS.c.status == "IN_PROGRESS")
            .values(status_message=message)
        )


def _finish(storage: Storage, job_id: str, status: str, **columns: Any) -> None:
    """Ends the job, then tells its NotificationChannel (after the commit: a Get* the message prompts
    sees the outcome)."""
    with storage.database.engine.begin() as connection:
        ended = connection.execute(
            update(JOBS)
            .where(JOBS.c.job_id == job_id, JOBS.c.status == "IN_PROGRESS")
            .values(status=status, completed_at=datetime.now(UTC), **columns)
        ).rowcount
        job = connection.execute(select(JOBS).where(JOBS.c.job_id == job_id)).one()
    if ended:  # not when another node ended it first (its node died, and the lease went to another)
        notify_job_finished(storage, job)


class VideoRunner:
    """Analyses queued jobs one at a time: each already uses every core for its models."""

    def __init__(self, storage: Storage) -> None:
        self.storage = storage
        self._queue = WorkQueue("rekognition-video")

    def submit(self, job_id: str) -> None:
        # held from the queue on; no API stops a video job, so a stop request has nothing to do
        lease_node(self.storage).hold(resource_name(LEASE_KIND, (job_id,)), lambda: None)
        self._queue.submit(self._run, job_id)

    def _run(self, job_id: str) -> None:
        try:
            self._run_held(job_id)
        finally:
            lease_node(self.storage).release(resource_name(LEASE_KIND, (job_id,)))

    def _run_held(self, job_id: str) -> None:
        try:
            columns = self._analyse(job_id)
        except InvalidVideoError as error:
            reason = str(error)
        except (StorageError, OSError):  # the object went away after Start
            reason = S3_OBJECT_MESSAGE
        except AwsError as error:  # what the job needs went away after Start (a face collection)
            reason = error.message
        except Exception as error:  # a bug in Nimbus must still end the job, never leave it running
            log.exception("video job %s failed", job_id)
            reason = f"InternalServerError: {error!r}"
        else:
            _finish(self.storage, job_id, "SUCCEEDED", status_message=None, **columns)
            return
        _finish(self.storage, job_id, "FAILED", status_message=reason[:1024])

    def _analyse(self, job_id: str) -> dict[str, Any]:
        with self.storage.database.engine.connect() as connection:
            job = connection.execute(select(JOBS).where(JOBS.c.job_id == job_id)).one()
        s3_object = job.request["Video"]["S3Object"]
        info = probe_video(self.storage.objects.object_file(s3_object["Bucket"], s3_object["Name"]))
        source = VideoSource(self.storage, job, info, Settings().video_sample_fps)
        results = ANALYSES[job.operation](source, job.request)
        return {"results": results, "video_metadata": {"Video": video_metadata_shape(info)}}


def _fail_interrupted_jobs(storage: Storage) -> None:
    """Jobs whose node stopped while they ran or queued fail, saying why; only those whose lease
    expired: a live node's jobs are its own."""
    with storage.database.engine.connect() as connection:
        running = connection.execute(
            select(JOBS.c.job_id, JOBS.c.created_at).where(JOBS.c.status == "IN_PROGRESS")
        ).all()
    for (job_id,) in lease_node(storage).orphans(
        LEASE_KIND, [((job_id,), created) for job_id, created in running]
    ):
        _finish(storage, job_id, "FAILED", status_message=INTERRUPTED)


video_runner: RunnerPerStorage[VideoRunner] = RunnerPerStorage(
    VideoRunner, _fail_interrupted_jobs, leased=True
)
"""This process's VideoRunner for a storage, made on first use after _fail_interrupted_jobs ran."""

rekognition.on_startup(video_runner)
