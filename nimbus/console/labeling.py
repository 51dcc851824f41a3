"""Ground Truth's worker pages: the labelling jobs with tasks for the signed-in worker, and one task
at a time to label (an image's class or classes, boxes drawn on it, a text's class, entities marked in
it). They go through Nimbus's worker portal (``/_nimbus/sagemaker/labeling/``), signed with the
worker's session, so a worker sees the tasks of their own workteams only."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote

from starlette.responses import Response

from nimbus.console.web import ConsoleRequest, Done, Page, get, post, url

PORTAL = "/_nimbus/sagemaker/labeling"
TEMPLATES = {
    "ImageMultiClass": "labeling/image_class.html",
    "ImageMultiClassMultiLabel": "labeling/image_class.html",
    "BoundingBox": "labeling/boxes.html",
    "TextMultiClass": "labeling/text_class.html",
    "NamedEntityRecognition": "labeling/entities.html",
}


def _portal(ctx: ConsoleRequest, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
    """The portal's answer (JSON, or the bytes of an image); a ClientError when it refuses."""
    return ctx.extension("Labeling", method, PORTAL + path, body)


def jobs(ctx: ConsoleRequest) -> Page:
    listed = _portal(ctx, "GET", "/jobs")["LabelingJobs"]
    return Page("labeling/jobs.html", {"jobs": listed}, title="Labeling tasks")


def task(ctx: ConsoleRequest) -> Page:
    """The worker's next task in a job (the one they hold, if they hold one)."""
    job = ctx.query("job")
    taken = _portal(ctx, "POST", f"/jobs/{quote(job, safe='')}/next-task")["Task"]
    if taken is None:
        return Page("labeling/done.html", {"job": job}, title="No tasks left")
    image = url("/labeling/image", job=job, n=taken["Position"]) if "SourceRef" in taken else ""
    data = {"job": job, "task": taken, "image": image, "multi": taken["TaskType"].endswith("MultiLabel")}
    return Page(TEMPLATES[taken["TaskType"]], data, title=taken["TaskTitle"])


def image(ctx: ConsoleRequest) -> Response:
    job, position = ctx.query("job"), int(ctx.query("n", "0"))
    answer = _portal(ctx, "GET", f"/jobs/{quote(job, safe='')}/tasks/{position}/image")
    return Response(answer.body, media_type=answer.headers.get("content-type"))


def answer(ctx: ConsoleRequest) -> Done:
    job, position, task_type = ctx.field("job"), int(ctx.field("n", "0")), ctx.field("task_type")
    content = _answer_content(ctx, task_type)
    path = f"/jobs/{quote(job, safe='')}/tasks/{position}/answer"
    counters = _portal(ctx, "POST", path, {"answerContent": content})["LabelCounters"]
    return Done(url("/labeling/task", job=job), "Answer submitted.", {"LabelCounters": counters})


def _answer_content(ctx: ConsoleRequest, task_type: str) -> dict[str, Any]:
    """The form, as the answerContent of AWS's worker task template for the task type."""
    if task_type == "ImageMultiClass":
        return {"crowd-image-classifier": {"label": ctx.field("label")}}
    if task_type == "ImageMultiClassMultiLabel":
        return {"crowd-image-classifier-multi-select": {"labels": ctx.fields("label")}}
    if task_type == "TextMultiClass":
        return {"crowd-classifier": {"label": ctx.field("label")}}
    drawn = json.loads(ctx.field("drawn", "[]") or "[]")  # what the page's script recorded
    if task_type == "BoundingBox":
        return {"boundingBox": {"boundingBoxes": drawn}}
    return {"crowd-entity-annotation": {"entities": drawn}}


ROUTES = [
    get("/labeling", jobs),
    get("/labeling/task", task),
    get("/labeling/image", image),
    post("/labeling/answer", answer),
]
