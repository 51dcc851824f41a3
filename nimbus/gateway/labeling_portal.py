"""Ground Truth's worker portal, which AWS serves apart from the SageMaker API and Nimbus's console
calls for its labelling pages. Each request is signed like an S3 call by the worker (an IAM user, with
long-term or temporary keys); whether they may see a job is their workteams' business, not IAM's:

- ``GET  /_nimbus/sagemaker/labeling/jobs``: the jobs with tasks for the worker.
- ``POST /_nimbus/sagemaker/labeling/jobs/<job>/next-task``: takes the next task (``{"Task": null}``
  when none is left for the worker).
- ``GET  /_nimbus/sagemaker/labeling/jobs/<job>/tasks/<n>/image``: a held image task's image.
- ``POST /_nimbus/sagemaker/labeling/jobs/<job>/tasks/<n>/answer``, body ``{"answerContent": {...}}``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from datetime import datetime
from typing import Any

import anyio
from starlette.types import Receive

from nimbus.errors import AwsError
from nimbus.gateway.body import read_body
from nimbus.gateway.extension_auth import Routes, match_route, signed_caller
from nimbus.protocol.http import HttpRequest, HttpResponse
from nimbus.services.sagemaker import labeling_tasks
from nimbus.storage import Storage

PREFIX = "/_nimbus/sagemaker/labeling/"
MAX_BODY = 1 << 20
ROUTES: Routes = {
    ("GET", re.compile(r"jobs")): "jobs",
    ("POST", re.compile(r"jobs/(?P<job>[^/]+)/next-task")): "next-task",
    ("GET", re.compile(r"jobs/(?P<job>[^/]+)/tasks/(?P<position>\d+)/image")): "image",
    ("POST", re.compile(r"jobs/(?P<job>[^/]+)/tasks/(?P<position>\d+)/answer")): "answer",
}


def is_labeling_portal(request: HttpRequest) -> bool:
    return request.path.startswith(PREFIX)


async def labeling_portal(request: HttpRequest, receive: Receive, storage: Storage) -> HttpResponse:
    route, found = match_route(ROUTES, request, PREFIX, "labeling portal")
    request.body = await read_body(receive, MAX_BODY)
    signed = signed_caller(request, storage)
    worker, account_id, region = signed.credential.arn, signed.credential.account_id, signed.scope.region
    key = (account_id, region, found.get("job", ""))
    position = int(found.get("position", 0))
    if route == "image":
        image, content_type = await anyio.to_thread.run_sync(
            labeling_tasks.task_image, storage, key, worker, position
        )
        return HttpResponse(200, {"Content-Type": content_type}, image)
    work: Callable[[], Any]
    if route == "jobs":
        work = lambda: {"LabelingJobs": labeling_tasks.worker_jobs(storage, account_id, region, worker)}  # noqa: E731
    elif route == "next-task":
        work = lambda: {"Task": labeling_tasks.take_task(storage, key, worker)}  # noqa: E731
    else:
        answer = _answer(request.body)
        work = lambda: labeling_tasks.submit_answer(storage, key, worker, position, answer)  # noqa: E731
    body = await anyio.to_thread.run_sync(work)
    return HttpResponse(200, {"Content-Type": "application/json"}, json.dumps(body, default=_iso).encode())


def _iso(value: datetime) -> str:
    return value.isoformat()


def _answer(body: bytes) -> Any:
    try:
        document = json.loads(body or b"{}")
    except ValueError:
        raise AwsError("ValidationException", "The body must be JSON.", 400) from None
    if not isinstance(document, dict) or "answerContent" not in document:
        raise AwsError("ValidationException", 'The body must be {"answerContent": {...}}.', 400)
    return document["answerContent"]
