"""StartSegmentDetection / GetSegmentDetection: shot changes and black frames, from every frame
(the segment engine's frame differencing; see nimbus/engines/vision/segments.py)."""

from __future__ import annotations

from typing import Any

from nimbus.engines.vision import segments as segment_engine
from nimbus.engines.vision.segments import FrameRun
from nimbus.services.registry import RequestContext
from nimbus.services.rekognition import rekognition
from nimbus.services.rekognition.video_jobs import (
    VideoSource,
    find_video_job,
    paged,
    start_video_job,
    video_analysis,
    video_job_output,
)

OPERATION = "SegmentDetection"
DEFAULT_MIN_SEGMENT_CONFIDENCE = 50.0
MODEL_VERSIONS = {
    "SHOT": segment_engine.SHOT_MODEL_VERSION,
    "TECHNICAL_CUE": segment_engine.TECHNICAL_CUE_MODEL_VERSION,
}


@video_analysis(OPERATION)
def segments_of(source: VideoSource, request: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    types = set(request["SegmentTypes"])
    filters = request.get("Filters") or {}
    cue_filter = filters.get("TechnicalCueFilter") or {}
    black = cue_filter.get("BlackFrame") or {}
    frame_rate = source.info.frame_rate or 1.0
    found = segment_engine.detect_segments(
        source.every_frame(segment_engine.THUMBNAIL_SIZE),
        1000.0 / frame_rate,
        black.get("MaxPixelThreshold", segment_engine.DEFAULT_MAX_PIXEL_THRESHOLD),
        black.get("MinCoveragePercentage", segment_engine.DEFAULT_MIN_COVERAGE_PERCENT),
    )
    items = []
    if "SHOT" in types:
        least = (filters.get("ShotFilter") or {}).get("MinSegmentConfidence", DEFAULT_MIN_SEGMENT_CONFIDENCE)
        items += [
            {
                **_segment("SHOT", run, frame_rate),
                "ShotSegment": {"Index": index, "Confidence": run.confidence},
            }
            for index, run in enumerate(found.shots)
            if run.confidence >= least
        ]
    if "TECHNICAL_CUE" in types:
        least = cue_filter.get("MinSegmentConfidence", DEFAULT_MIN_SEGMENT_CONFIDENCE)
        items += [
            {
                **_segment("TECHNICAL_CUE", run, frame_rate),
                "TechnicalCueSegment": {"Type": "BlackFrames", "Confidence": run.confidence},
            }
            for run in found.black_frames
            if run.confidence >= least
        ]
    items.sort(key=lambda item: (item["StartTimestampMillis"], item["Type"]))
    return {"TIMESTAMPS": items}


def _segment(segment_type: str, run: FrameRun, frame_rate: float) -> dict[str, Any]:
    frames = run.last - run.first + 1
    return {
        "Type": segment_type,
        "StartTimestampMillis": run.start_ms,
        "EndTimestampMillis": run.end_ms,
        "DurationMillis": run.end_ms - run.start_ms,
        "StartTimecodeSMPTE": _timecode(run.first, frame_rate),
        "EndTimecodeSMPTE": _timecode(run.last + 1, frame_rate),
        "DurationSMPTE": _timecode(frames, frame_rate),
        "StartFrameNumber": run.first,
        "EndFrameNumber": run.last,
        "DurationFrames": frames,
    }


def _timecode(frame_number: int, frame_rate: float) -> str:
    """HH:MM:SS:FF, non-drop-frame, at the rate rounded to whole frames per second."""
    per_second = max(1, round(frame_rate))
    seconds, frames = divmod(frame_number, per_second)
    minutes, seconds = divmod(seconds, 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours:02d}:{minutes:02d}:{seconds:02d}:{frames:02d}"


@rekognition.operation
def start_segment_detection(ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
    """Shots come from colour-histogram and pixel differences between consecutive frames (hard cuts;
    gradual dissolves are not split); the only technical cue is BlackFrames (no ColorBars, EndCredits,
    Slate, Studio logo or Content)."""
    return start_video_job(ctx, OPERATION, request)


@rekognition.operation
def get_segment_detection(ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
    """Shot and black-frame times are frame accurate (every frame is decoded). There is no
    AudioMetadata, and VideoMetadata has no ColorRange: the decoder (OpenCV) reports neither. While
    the job is IN_PROGRESS, StatusMessage tells how far it has got."""
    job = find_video_job(ctx, OPERATION, request["JobId"])
    output, items = video_job_output(job)
    if job.video_metadata:
        output["VideoMetadata"] = [job.video_metadata["Video"]]
    output["SelectedSegmentTypes"] = [
        {"Type": segment_type, "ModelVersion": MODEL_VERSIONS[segment_type]}
        for segment_type in job.request["SegmentTypes"]
    ]
    return paged(output, "Segments", items, request)
