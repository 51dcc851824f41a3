"""StartTextDetection / GetTextDetection: DetectText on the sampled frames."""

from __future__ import annotations

from typing import Any

from nimbus.engines.vision import text as text_engine
from nimbus.services.registry import RequestContext
from nimbus.services.rekognition import rekognition
from nimbus.services.rekognition.text import text_detections
from nimbus.services.rekognition.video_jobs import (
    VideoSource,
    find_video_job,
    paged,
    start_video_job,
    video_analysis,
    video_job_output,
)

OPERATION = "TextDetection"


@video_analysis(OPERATION)
def text_over_time(source: VideoSource, request: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    filters = request.get("Filters") or {}
    items = [
        {"Timestamp": frame.timestamp_ms, "TextDetection": detection}
        for frame in source.sampled_frames()
        for detection in text_detections(frame.image, filters)
    ]
    return {"TIMESTAMPS": items}


@rekognition.operation
def start_text_detection(ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
    """DetectText (its filters too) on frames sampled at NIMBUS_VIDEO_SAMPLE_FPS (default 1 per
    second); detection ids count from 0 in each frame."""
    return start_video_job(ctx, OPERATION, request)


@rekognition.operation
def get_text_detection(ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
    """VideoMetadata has no ColorRange (the decoder, OpenCV, does not report it). While the job is
    IN_PROGRESS, StatusMessage tells how far it has got."""
    job = find_video_job(ctx, OPERATION, request["JobId"])
    output, items = video_job_output(job)
    output["TextModelVersion"] = text_engine.TEXT_MODEL_VERSION
    return paged(output, "TextDetections", items, request)
