"""StartContentModeration / GetContentModeration: DetectModerationLabels on the sampled frames."""

from __future__ import annotations

from typing import Any

from nimbus.engines.vision import moderation as moderation_engine
from nimbus.services.registry import RequestContext
from nimbus.services.rekognition import rekognition
from nimbus.services.rekognition.moderation import moderation_labels
from nimbus.services.rekognition.video_jobs import (
    VideoSource,
    find_video_job,
    paged,
    start_video_job,
    timestamp_segments,
    video_analysis,
    video_job_output,
)

OPERATION = "ContentModeration"
DEFAULT_MIN_CONFIDENCE = 50.0


@video_analysis(OPERATION)
def moderation_over_time(source: VideoSource, request: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    min_confidence = request.get("MinConfidence", DEFAULT_MIN_CONFIDENCE)
    items = [
        {"Timestamp": frame.timestamp_ms, "ModerationLabel": label}
        for frame in source.sampled_frames()
        for label in moderation_labels(frame.image, min_confidence)
    ]
    return {"TIMESTAMPS": items, "SEGMENTS": timestamp_segments(items, "ModerationLabel", source)}


@rekognition.operation
def start_content_moderation(ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
    """The labels of DetectModerationLabels (nudity only: Explicit, Explicit Nudity) on frames sampled
    at NIMBUS_VIDEO_SAMPLE_FPS (default 1 per second)."""
    return start_video_job(ctx, OPERATION, request)


@rekognition.operation
def get_content_moderation(ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
    """No ContentTypes (Animated, Illustrated) are given. AggregateBy SEGMENTS merges a label seen on
    consecutive sampled frames, as GetLabelDetection does. VideoMetadata has no ColorRange (the decoder,
    OpenCV, does not report it). While the job is IN_PROGRESS, StatusMessage tells how far it has got."""
    job = find_video_job(ctx, OPERATION, request["JobId"])
    sort_by, aggregate_by = request.get("SortBy", "TIMESTAMP"), request.get("AggregateBy", "TIMESTAMPS")
    output, items = video_job_output(job, aggregate_by)
    if sort_by == "NAME":
        items.sort(key=lambda item: (item["ModerationLabel"]["Name"], item["Timestamp"]))
    output["ModerationModelVersion"] = moderation_engine.MODERATION_MODEL_VERSION
    output["GetRequestMetadata"] = {"SortBy": sort_by, "AggregateBy": aggregate_by}
    return paged(output, "ModerationLabels", items, request)
