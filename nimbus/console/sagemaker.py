"""SageMaker pages: training jobs (status timeline, hyperparameters, metric charts, live log tail,
artifacts, stop), endpoints with an invoke form, and the lists of models, transform, tuning and
processing jobs with their descriptions.

A training job's chart is drawn from its CloudWatch log, read through the Logs API: each line is
matched against the job's metric definitions (script mode) or its built-in algorithm's own metric
lines, the same rule by which SageMaker reports the job's final metrics.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

from nimbus.console.web import ConsoleRequest, Done, Page, get, post, url
from nimbus.errors import AwsError
from nimbus.services.sagemaker.images import training_runtime

PAGE_SIZE = 50
TRAINING_LOG_GROUP = "/aws/sagemaker/TrainingJobs"
TAIL_LINES = 200
MAX_LOG_PAGES = 20  # the chart reads at most this many pages of 10,000 log events
ENDED = ("Completed", "Failed", "Stopped")
NEWEST = {"MaxResults": PAGE_SIZE, "SortBy": "CreationTime", "SortOrder": "Descending"}


@dataclass(frozen=True)
class Kind:
    """A kind of SageMaker resource listed and described the same way."""

    title: str
    list_operation: str
    items: str
    name: str
    status: str
    describe_operation: str
    sortable: bool = True


KINDS = {
    "models": Kind("Models", "list_models", "Models", "ModelName", "", "describe_model"),
    "endpoints": Kind(
        "Endpoints", "list_endpoints", "Endpoints", "EndpointName", "EndpointStatus", "describe_endpoint"
    ),
    "transform": Kind(
        "Transform jobs",
        "list_transform_jobs",
        "TransformJobSummaries",
        "TransformJobName",
        "TransformJobStatus",
        "describe_transform_job",
    ),
    "tuning": Kind(
        "Tuning jobs",
        "list_hyper_parameter_tuning_jobs",
        "HyperParameterTuningJobSummaries",
        "HyperParameterTuningJobName",
        "HyperParameterTuningJobStatus",
        "describe_hyper_parameter_tuning_job",
    ),
    "processing": Kind(
        "Processing jobs",
        "list_processing_jobs",
        "ProcessingJobSummaries",
        "ProcessingJobName",
        "ProcessingJobStatus",
        "describe_processing_job",
    ),
}


def training_jobs(ctx: ConsoleRequest) -> Page:
    parameters = {"StatusEquals": ctx.query("status")} if ctx.query("status") else {}
    found, following = ctx.one_page(
        ctx.client("sagemaker").list_training_jobs,
        "TrainingJobSummaries",
        "NextToken",
        **NEWEST,
        **parameters,
    )
    data = {"jobs": found, "status": ctx.query("status"), "next": following}
    return Page("sagemaker_training_jobs.html", data, title="Training jobs")


def training_job(ctx: ConsoleRequest) -> Page:
    name = ctx.path("name")
    job = ctx.client("sagemaker").describe_training_job(TrainingJobName=name)
    job.pop("ResponseMetadata", None)
    stream = _log_stream(ctx, name)
    lines, token = _log_lines(ctx, stream) if stream else ([], None)
    data = {
        "job": job,
        "artifacts": _s3_link(job.get("ModelArtifacts", {}).get("S3ModelArtifacts", "")),
        "chart": _metric_chart(job, [message for _, message in lines]),
        "log": [message for _, message in lines[-TAIL_LINES:]],
        "log_stream": stream,
        "token": token,
        "ended": job["TrainingJobStatus"] in ENDED,
    }
    return Page("sagemaker_training_job.html", data, title=name)


def training_log(ctx: ConsoleRequest) -> Page:
    """The log's lines after ``token`` (the page's tail polls this as JSON)."""
    stream = _log_stream(ctx, ctx.path("name"))
    if stream is None:
        return Page("sagemaker_log.html", {"lines": [], "token": ctx.query("token")})
    events = ctx.client("logs").get_log_events(
        logGroupName=TRAINING_LOG_GROUP,
        logStreamName=stream,
        nextToken=ctx.query("token"),
        startFromHead=True,
    )
    lines = [event["message"] for event in events.get("events", [])]
    return Page("sagemaker_log.html", {"lines": lines, "token": events.get("nextForwardToken")})


def _log_stream(ctx: ConsoleRequest, job: str) -> str | None:
    try:
        streams = ctx.client("logs").describe_log_streams(
            logGroupName=TRAINING_LOG_GROUP, logStreamNamePrefix=f"{job}/"
        )["logStreams"]
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") == "ResourceNotFoundException":
            return None  # no job has logged anything yet
        raise
    return streams[0]["logStreamName"] if streams else None


def _log_lines(ctx: ConsoleRequest, stream: str) -> tuple[list[tuple[int, str]], str | None]:
    """The stream's events from the start, and the token that continues after the last one."""
    logs = ctx.client("logs")
    lines: list[tuple[int, str]] = []
    parameters: dict[str, Any] = {
        "logGroupName": TRAINING_LOG_GROUP,
        "logStreamName": stream,
        "startFromHead": True,
    }
    token = None
    for _ in range(MAX_LOG_PAGES):
        events = logs.get_log_events(**parameters)
        batch = events.get("events", [])
        lines.extend((event["timestamp"], event["message"]) for event in batch)
        finished = not batch or events.get("nextForwardToken") == token
        token = parameters["nextToken"] = events.get("nextForwardToken")
        if finished:
            break
    return lines, token


def _metric_chart(job: dict[str, Any], lines: list[str]) -> dict[str, Any]:
    """One series per metric, its points in the order the job reported them."""
    series: dict[str, list[float | None]] = {}
    try:
        runtime = training_runtime(job["AlgorithmSpecification"], job.get("HyperParameters") or {})
    except AwsError:
        return _chart(series)  # an image Nimbus no longer runs: no rule to read metrics in its log with
    for line in lines:
        for name, value in runtime.metrics(line).items():
            series.setdefault(name, []).append(value)
    return _chart(series)


def _chart(series: dict[str, list[float | None]]) -> dict[str, Any]:
    """uPlot's shape: one x for all series, a shorter series padded with gaps."""
    length = max((len(values) for values in series.values()), default=0)
    return {
        "xLabel": "report",
        "x": list(range(1, length + 1)),
        "series": [
            {"name": name, "values": values + [None] * (length - len(values))}
            for name, values in sorted(series.items())
        ],
    }


def _s3_link(uri: str) -> str | None:
    """The console page of an ``s3://bucket/key`` object."""
    if not uri.startswith("s3://"):
        return None
    bucket, _, key = uri[5:].partition("/")
    return url(f"/s3/{bucket}/object", key=key)


def stop_training_job(ctx: ConsoleRequest) -> Done:
    name = ctx.path("name")
    ctx.client("sagemaker").stop_training_job(TrainingJobName=name)
    return Done(url(f"/sagemaker/training/{name}"), f"Stopping {name}.")


def resources(ctx: ConsoleRequest) -> Page:
    kind_name = ctx.path("kind")
    kind = KINDS.get(kind_name)
    if kind is None:
        raise ClientError({"Error": {"Code": "NotFound", "Message": f"No such list: {kind_name}"}}, "console")
    found, following = ctx.one_page(
        getattr(ctx.client("sagemaker"), kind.list_operation), kind.items, "NextToken", **NEWEST
    )
    data = {
        "kind": kind_name,
        "heading": kind.title,
        "name_member": kind.name,
        "status_member": kind.status,
        "items": found,
        "next": following,
    }
    return Page("sagemaker_resources.html", data, title=kind.title)


def resource(ctx: ConsoleRequest, invoked: dict[str, Any] | None = None) -> Page:
    kind_name, name = ctx.path("kind"), ctx.path("name")
    kind = KINDS.get(kind_name)
    if kind is None:
        raise ClientError({"Error": {"Code": "NotFound", "Message": f"No such list: {kind_name}"}}, "console")
    described = getattr(ctx.client("sagemaker"), kind.describe_operation)(**{kind.name: name})
    described.pop("ResponseMetadata", None)
    data = {
        "kind": kind_name,
        "heading": kind.title,
        "name": name,
        "status": described.get(kind.status, ""),
        "described": described,
        "invoked": invoked,
        "input": ctx.field("body"),
        "content_type": ctx.field("content_type") or "text/csv",
    }
    return Page("sagemaker_resource.html", data, title=name)


def invoke_endpoint(ctx: ConsoleRequest) -> Page:
    """InvokeEndpoint with the form's body; the answer is shown as text."""
    answer = ctx.client("sagemaker-runtime").invoke_endpoint(
        EndpointName=ctx.path("name"),
        Body=ctx.field("body").encode(),
        ContentType=ctx.field("content_type") or "text/csv",
        Accept=ctx.field("accept") or "*/*",
    )
    body = answer["Body"].read()
    invoked = {
        "ContentType": answer.get("ContentType", ""),
        "Body": body.decode("utf-8", errors="replace"),
        "InvokedProductionVariant": answer.get("InvokedProductionVariant", ""),
    }
    return resource(ctx, invoked)


ROUTES = [
    get("/sagemaker", training_jobs),
    get("/sagemaker/training/{name}", training_job),
    get("/sagemaker/training/{name}/log", training_log),
    post("/sagemaker/training/{name}/stop", stop_training_job),
    get("/sagemaker/{kind}", resources),
    get("/sagemaker/{kind}/{name}", resource),
    post("/sagemaker/{kind}/{name}/invoke", invoke_endpoint),
]
