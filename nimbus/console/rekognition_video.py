"""Rekognition video jobs started from the console: start label or face detection on a video in
S3, and each job's status and results on a timeline (when each label or face was seen).

Rekognition has no API that lists video jobs, so the console keeps the ids of the jobs this session
started (in its sealed cookie, the last ten); a job started elsewhere opens by its id.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from starlette.responses import Response

from nimbus.console.sign_in import with_session
from nimbus.console.web import ConsoleRequest, Page, get, post, secured, url

RESULTS_SHOWN = 1000  # one page of a Get* answer
TIMELINE_ROWS = 20


@dataclass(frozen=True)
class VideoAnalysis:
    label: str
    start: str  # the client methods that start a job and read its results
    results: str
    items: str  # the results' member: one entry per sampled frame and thing seen


ANALYSES = {
    "labels": VideoAnalysis("Labels", "start_label_detection", "get_label_detection", "Labels"),
    "faces": VideoAnalysis("Faces", "start_face_detection", "get_face_detection", "Faces"),
}


def videos(ctx: ConsoleRequest) -> Page:
    started = [
        dict(zip(("kind", "job_id"), entry.split("/", 1), strict=True)) for entry in ctx.session.video_jobs
    ]
    data = {"analyses": {kind: a.label for kind, a in ANALYSES.items()}, "started": started}
    return Page("rekognition_videos.html", data, title="Rekognition video")


def start_job(ctx: ConsoleRequest) -> Response:
    kind = _kind(ctx.field("kind"))
    video = {"S3Object": {"Bucket": ctx.field("bucket").strip(), "Name": ctx.field("key").strip()}}
    started = getattr(ctx.client("rekognition"), ANALYSES[kind].start)(
        Video=video, ClientRequestToken=uuid.uuid4().hex
    )
    job_id = started["JobId"]
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
    found = getattr(ctx.client("rekognition"), analysis.results)(JobId=job_id, MaxResults=RESULTS_SHOWN)
    found.pop("ResponseMetadata", None)
    items = found.get(analysis.items, [])
    duration = int(found.get("VideoMetadata", {}).get("DurationMillis") or 0)
    data = {
        "kind": kind,
        "label": analysis.label,
        "job_id": job_id,
        "status": found.get("JobStatus", ""),
        "message": found.get("StatusMessage", ""),
        "video": found.get("Video", {}),
        "metadata": found.get("VideoMetadata", {}),
        "duration": duration,
        "timeline": _timeline(kind, items, duration),
        "items": items,
        "more": bool(found.get("NextToken")),
    }
    return Page("rekognition_video_job.html", data, title=f"{analysis.label} job {job_id}")


def _timeline(kind: str, items: list[dict[str, Any]], duration: int) -> list[dict[str, Any]]:
    """One row per label (faces: one row), with the times it was seen as fractions of the video."""
    seen: dict[str, set[int]] = defaultdict(set)
    for item in items:
        name = item["Label"]["Name"] if kind == "labels" else "Face"
        seen[name].add(int(item["Timestamp"]))
    rows = sorted(seen.items(), key=lambda row: (-len(row[1]), row[0]))[:TIMELINE_ROWS]
    span = max(duration, *(max(times) for _, times in rows), 1) if rows else max(duration, 1)
    return [
        {"name": name, "times": sorted(times), "marks": [time / span for time in sorted(times)]}
        for name, times in rows
    ]


def _kind(kind: str) -> str:
    if kind not in ANALYSES:
        raise ValueError(f"The console starts {' and '.join(ANALYSES)} jobs, not {kind!r}.")
    return kind


ROUTES = [
    get("/rekognition/video", videos),
    post("/rekognition/video/start", start_job),
    get("/rekognition/video/open", open_job),
    get("/rekognition/video/{kind}/{job}", job),
]
