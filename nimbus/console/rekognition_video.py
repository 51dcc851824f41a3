"""Rekognition video jobs started from the console: label, face, text, moderation and segment
detection and face search (against a collection picked from a list) on a video in S3, and each
job's status and results on a timeline (when each thing was seen; segments as spans), with the Get*
request and response.

Rekognition has no API that lists video jobs, so the console keeps the ids of the jobs this session
started (in its sealed cookie, the last ten); a job started elsewhere opens by its id.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

from botocore.exceptions import ClientError
from starlette.responses import Response

from nimbus.console.sign_in import with_session
from nimbus.console.web import ConsoleRequest, Page, get, post, secured, url

RESULTS_SHOWN = 1000  # one page of a Get* answer
TIMELINE_ROWS = 20
COLLECTIONS_LISTED = 100
SEGMENT_TYPES = ("SHOT", "TECHNICAL_CUE")
MARK_WIDTH = 0.004  # a moment on the timeline, as a fraction of its width


@dataclass(frozen=True)
class Seen:
    """One result as the timeline and the table show it; a segment has an end, a moment none."""

    name: str
    start: int
    end: int | None
    confidence: float


def _label(item: dict[str, Any]) -> Seen | None:
    return Seen(item["Label"]["Name"], item["Timestamp"], None, item["Label"]["Confidence"])


def _face(item: dict[str, Any]) -> Seen | None:
    return Seen("Face", item["Timestamp"], None, item["Face"]["Confidence"])


def _text(item: dict[str, Any]) -> Seen | None:
    found = item["TextDetection"]  # a line and each of its words: the lines are enough to show
    return (
        Seen(found["DetectedText"], item["Timestamp"], None, found["Confidence"])
        if found["Type"] == "LINE"
        else None
    )


def _moderation(item: dict[str, Any]) -> Seen | None:
    return Seen(
        item["ModerationLabel"]["Name"], item["Timestamp"], None, item["ModerationLabel"]["Confidence"]
    )


def _segment(item: dict[str, Any]) -> Seen | None:
    if item["Type"] == "SHOT":
        return Seen(
            "Shot",
            item["StartTimestampMillis"],
            item["EndTimestampMillis"],
            item["ShotSegment"]["Confidence"],
        )
    cue = item["TechnicalCueSegment"]
    return Seen(cue["Type"], item["StartTimestampMillis"], item["EndTimestampMillis"], cue["Confidence"])


def _person(item: dict[str, Any]) -> Seen | None:
    """A person by the collection's face they matched best: its external image id, or its face id."""
    if not item.get("FaceMatches"):
        return None
    best = max(item["FaceMatches"], key=lambda match: match["Similarity"])
    face = best["Face"]
    return Seen(face.get("ExternalImageId") or face["FaceId"], item["Timestamp"], None, best["Similarity"])


@dataclass(frozen=True)
class VideoAnalysis:
    label: str
    start: str  # the client methods that start a job and read its results
    results: str
    items: str  # the results' member: one entry per sampled frame and thing seen (or segment)
    seen: Callable[[dict[str, Any]], Seen | None]


ANALYSES = {
    "labels": VideoAnalysis("Labels", "start_label_detection", "get_label_detection", "Labels", _label),
    "faces": VideoAnalysis("Faces", "start_face_detection", "get_face_detection", "Faces", _face),
    "text": VideoAnalysis("Text", "start_text_detection", "get_text_detection", "TextDetections", _text),
    "moderation": VideoAnalysis(
        "Content moderation",
        "start_content_moderation",
        "get_content_moderation",
        "ModerationLabels",
        _moderation,
    ),
    "segments": VideoAnalysis(
        "Segments", "start_segment_detection", "get_segment_detection", "Segments", _segment
    ),
    "face-search": VideoAnalysis("Face search", "start_face_search", "get_face_search", "Persons", _person),
}


def videos(ctx: ConsoleRequest) -> Page:
    started = [
        dict(zip(("kind", "job_id"), entry.split("/", 1), strict=True)) for entry in ctx.session.video_jobs
    ]
    try:
        collections = ctx.client("rekognition").list_collections(MaxResults=COLLECTIONS_LISTED)[
            "CollectionIds"
        ]
    except ClientError:  # a caller who may not list collections types the id in
        collections = None
    data = {
        "analyses": {kind: a.label for kind, a in ANALYSES.items()},
        "segment_types": SEGMENT_TYPES,
        "collections": collections,
        "started": started,
    }
    return Page("rekognition_videos.html", data, title="Rekognition video")


def start_job(ctx: ConsoleRequest) -> Response:
    kind = _kind(ctx.field("kind"))
    request: dict[str, Any] = {
        "Video": {"S3Object": {"Bucket": ctx.field("bucket").strip(), "Name": ctx.field("key").strip()}},
        "ClientRequestToken": uuid.uuid4().hex,
    }
    if kind == "segments":
        request["SegmentTypes"] = ctx.fields("segment_types") or list(SEGMENT_TYPES)
    if kind == "face-search":
        request["CollectionId"] = ctx.field("collection")
    job_id = getattr(ctx.client("rekognition"), ANALYSES[kind].start)(**request)["JobId"]
    response = secured(
        Response(status_code=303, headers={"Location": url(f"/rekognition/video/{kind}/{job_id}")})
    )
    return with_session(ctx, response, ctx.session.with_video_job(kind, job_id))


def open_job(ctx: ConsoleRequest) -> Response:
    """The "open a job by its id" form (a GET): to the job's page."""
    kind, job_id = _kind(ctx.query("kind")), ctx.query("job_id").strip()
    return secured(
        Response(status_code=303, headers={"Location": url(f"/rekognition/video/{kind}/{job_id}")})
    )


def job(ctx: ConsoleRequest) -> Page:
    kind, job_id = _kind(ctx.path("kind")), ctx.path("job")
    analysis = ANALYSES[kind]
    request = {"JobId": job_id, "MaxResults": RESULTS_SHOWN}
    found = getattr(ctx.client("rekognition"), analysis.results)(**request)
    found.pop("ResponseMetadata", None)
    metadata = found.get("VideoMetadata") or {}
    if isinstance(metadata, list):  # GetSegmentDetection's: one per video stream
        metadata = metadata[0] if metadata else {}
    duration = int(metadata.get("DurationMillis") or 0)
    seen = [shown for item in found.get(analysis.items, []) if (shown := analysis.seen(item))]
    data = {
        "kind": kind,
        "label": analysis.label,
        "job_id": job_id,
        "status": found.get("JobStatus", ""),
        "message": found.get("StatusMessage", ""),
        "video": found.get("Video", {}),
        "metadata": metadata,
        "duration": duration,
        "timeline": _timeline(seen, duration),
        "seen": [asdict(shown) for shown in seen],
        "more": bool(found.get("NextToken")),
        "request": request,
        "response": found,
    }
    return Page("rekognition_video_job.html", data, title=f"{analysis.label} job {job_id}")


def _timeline(seen: list[Seen], duration: int) -> list[dict[str, Any]]:
    """One row per thing seen (the 20 seen most often), with its moments or spans as fractions of
    the video: ``[start, width]`` marks."""
    rows: dict[str, list[Seen]] = defaultdict(list)
    for shown in seen:
        rows[shown.name].append(shown)
    kept = sorted(rows.items(), key=lambda row: (-len(row[1]), row[0]))[:TIMELINE_ROWS]
    span = max([duration, 1, *(shown.end or shown.start for shown in seen)])
    return [
        {
            "name": name,
            "times": [shown.start for shown in found],
            "marks": [
                (
                    shown.start / span,
                    (shown.end - shown.start) / span if shown.end is not None else MARK_WIDTH,
                )
                for shown in sorted(found, key=lambda shown: shown.start)
            ],
        }
        for name, found in kept
    ]


def _kind(kind: str) -> str:
    if kind not in ANALYSES:
        raise ValueError(f"The console starts {', '.join(ANALYSES)} jobs, not {kind!r}.")
    return kind


ROUTES = [
    get("/rekognition/video", videos),
    post("/rekognition/video/start", start_job),
    get("/rekognition/video/open", open_job),
    get("/rekognition/video/{kind}/{job}", job),
]
