"""StartLabelDetection / GetLabelDetection: DetectLabels on the video's sampled frames."""

from __future__ import annotations

from typing import Any

from nimbus.engines.vision import labels as label_engine
from nimbus.services.registry import RequestContext
from nimbus.services.rekognition import rekognition
from nimbus.services.rekognition.labels import LABEL_MODEL_VERSION, label_shape, passes_filters
from nimbus.services.rekognition.video_jobs import (
    VideoSource,
    find_video_job,
    paged,
    start_video_job,
    timestamp_segments,
    video_analysis,
    video_job_output,
)

OPERATION = "LabelDetection"
DEFAULT_MIN_CONFIDENCE = 50.0  # AWS's default for video


@video_analysis(OPERATION)
def labels_over_time(source: VideoSource, request: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    min_confidence = request.get("MinConfidence", DEFAULT_MIN_CONFIDENCE)
    filters = (request.get("Settings") or {}).get("GeneralLabels") or {}
    items = [
        {"Timestamp": frame.timestamp_ms, "Label": label_shape(label)}
        for frame in source.sampled_frames()
        for label in label_engine.detect_labels(frame.image, None, min_confidence)
        if passes_filters(label, filters)
    ]
    return {"TIMESTAMPS": items, "SEGMENTS": timestamp_segments(items, "Label", source)}


@rekognition.operation
def start_label_detection(ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
    """Labels as DetectLabels finds them (its smaller vocabulary), on frames sampled at
    NIMBUS_VIDEO_SAMPLE_FPS (default 1 per second)."""
    return start_video_job(ctx, OPERATION, request)


@rekognition.operation
def get_label_detection(ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
    """With AggregateBy SEGMENTS, a label seen on consecutive sampled frames is one segment that ends
    one sampling interval after the last of them; a segment's label has no Instances. VideoMetadata
    has no ColorRange (the decoder, OpenCV, does not report it). While the job is IN_PROGRESS,
    StatusMessage tells how far it has got."""
    job = find_video_job(ctx, OPERATION, request["JobId"])
    sort_by, aggregate_by = request.get("SortBy", "TIMESTAMP"), request.get("AggregateBy", "TIMESTAMPS")
    output, items = video_job_output(job, aggregate_by)
    if sort_by == "NAME":
        items.sort(key=lambda item: (item["Label"]["Name"], item["Timestamp"]))
    output["LabelModelVersion"] = LABEL_MODEL_VERSION
    output["GetRequestMetadata"] = {"SortBy": sort_by, "AggregateBy": aggregate_by}
    return paged(output, "Labels", items, request)
