"""Inference Recommender jobs: create, describe, list, list steps, stop. The load tests run on this
machine (recommendations/); Describe answers AWS's metrics, and how each figure was obtained is the
job's report (``GET /_nimbus/sagemaker/inference-recommendations/<JobName>``, docs/sagemaker.md)."""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy.engine import Row

from nimbus.services.registry import RequestContext
from nimbus.services.sagemaker import sagemaker
from nimbus.services.sagemaker.errors import resource_not_found, validation_error
from nimbus.services.sagemaker.job_lists import list_jobs, offset_token, token_offset
from nimbus.services.sagemaker.job_table import JobKey
from nimbus.services.sagemaker.models import find_model
from nimbus.services.sagemaker.recommendations.records import RECOMMENDATION_JOBS, table_status, wire_status
from nimbus.services.sagemaker.recommendations.runner import recommendation_runner
from nimbus.services.sagemaker.s3_locations import split_s3_uri

PERCENTILE = re.compile(r"^[Pp](\d{1,2}(\.\d+)?)$")
DEFAULT_PAGE_SIZE = 10


def _key(ctx: RequestContext, name: str) -> JobKey:
    return ctx.caller.account_id, ctx.region, name


def _find(ctx: RequestContext, name: str) -> Row[Any]:
    job = RECOMMENDATION_JOBS.find(ctx.storage, _key(ctx, name))
    if job is None:
        raise resource_not_found(f"Inference recommendations job {name} does not exist.")
    return job


@sagemaker.operation
def create_inference_recommendations_job(ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
    """Load-tests a model (ModelName; model packages are not served) with the sample payloads of
    ContainerConfig.PayloadConfig, on this machine, at each candidate's vCPUs: EndpointConfigurations
    (with their EnvironmentParameterRanges), or a Default job's ContainerConfig.SupportedInstanceTypes
    or default types. Serverless candidates, existing Endpoints, VpcConfig and KMS keys are not served."""
    runner = recommendation_runner(ctx.storage)
    _check(ctx, request)
    key = _key(ctx, request["JobName"])
    RECOMMENDATION_JOBS.insert(
        ctx.storage,
        key,
        ctx.caller.arn,
        request,
        model_name=request["InputConfig"]["ModelName"],
        steps=[],
        recommendations=[],
        report={},
    )
    runner.submit(key)
    return {"JobArn": RECOMMENDATION_JOBS.arn(key)}


def _check(ctx: RequestContext, request: dict[str, Any]) -> None:
    """What SageMaker refuses, and what Nimbus cannot run, is refused before anything is stored."""
    config = request["InputConfig"]
    if config.get("ModelPackageVersionArn"):
        raise validation_error(
            "Nimbus recommends for models (InputConfig.ModelName); model packages are not served."
        )
    if not config.get("ModelName"):
        raise validation_error("InputConfig.ModelName is required.")
    with ctx.storage.database.engine.connect() as connection:
        find_model(ctx, config["ModelName"], connection)
    payload = (config.get("ContainerConfig") or {}).get("PayloadConfig") or {}
    if not payload.get("SamplePayloadUrl"):
        raise validation_error(
            "InputConfig.ContainerConfig.PayloadConfig.SamplePayloadUrl is required: "
            "a tar.gz of sample request bodies in S3."
        )
    try:
        split_s3_uri(payload["SamplePayloadUrl"])
    except ValueError:
        raise validation_error(
            f"SamplePayloadUrl {payload['SamplePayloadUrl']!r} is not an S3 URI."
        ) from None
    if config.get("Endpoints"):
        raise validation_error(
            "Nimbus load-tests the model on new endpoints; InputConfig.Endpoints is not served."
        )
    for configuration in config.get("EndpointConfigurations") or []:
        if "ServerlessConfig" in configuration or "InstanceType" not in configuration:
            raise validation_error(
                "Each EndpointConfigurations entry needs an InstanceType: Nimbus serves instance-based "
                "endpoints, not serverless ones."
            )
    _check_traffic(config.get("TrafficPattern"))
    for threshold in (request.get("StoppingConditions") or {}).get("ModelLatencyThresholds") or []:
        if not PERCENTILE.match(threshold.get("Percentile", "")) or "ValueInMilliseconds" not in threshold:
            raise validation_error(
                "ModelLatencyThresholds: Percentile must be like P95 "
                f"(given {threshold.get('Percentile')!r}) and ValueInMilliseconds is required."
            )


def _check_traffic(pattern: dict[str, Any] | None) -> None:
    if not pattern:
        return
    kind = pattern.get("TrafficType", "PHASES")
    if kind == "PHASES" and not pattern.get("Phases"):
        raise validation_error("TrafficPattern of type PHASES needs Phases.")
    if kind == "STAIRS" and not pattern.get("Stairs"):
        raise validation_error("TrafficPattern of type STAIRS needs Stairs.")
    stairs = pattern.get("Stairs") or {}
    if kind == "STAIRS" and not {"DurationInSeconds", "NumberOfSteps", "UsersPerStep"} <= set(stairs):
        raise validation_error("Stairs needs DurationInSeconds, NumberOfSteps and UsersPerStep.")
    for phase in pattern.get("Phases") or [] if kind == "PHASES" else []:
        if not {"InitialNumberOfUsers", "DurationInSeconds"} <= set(phase):
            raise validation_error("Each phase needs InitialNumberOfUsers and DurationInSeconds.")


@sagemaker.operation
def describe_inference_recommendations_job(ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
    """Metrics are measured on this machine; the job's report says which figures are measured,
    projected (more vCPUs than the machine), published (prices) or not measurable (GPU types without a
    GPU here: their step is FAILED, saying why). ModelLatency is AWS's, the asked percentile (P95 by
    default) in ms of the container's time as InvokeEndpoint sees it, at the step MaxInvocations
    comes from; the report adds the open-loop end-to-end latency; CpuUtilization adds up the cores;
    ModelSetupTime is in microseconds. Recommendations are ordered cheapest per inference first."""
    recommendation_runner(ctx.storage)
    job = _find(ctx, request["JobName"])
    output: dict[str, Any] = {
        "JobName": job.name,
        "JobDescription": job.request.get("JobDescription", ""),
        "JobType": job.request["JobType"],
        "JobArn": RECOMMENDATION_JOBS.arn((job.account_id, job.region, job.name)),
        "RoleArn": job.request["RoleArn"],
        "Status": wire_status(job.status),
        "CreationTime": job.created_at,
        "LastModifiedTime": job.last_modified,
        "InputConfig": job.request["InputConfig"],
    }
    optional = {
        "CompletionTime": job.completion_time,
        "FailureReason": job.failure_reason,
        "StoppingConditions": job.request.get("StoppingConditions"),
        "InferenceRecommendations": job.recommendations or None,
    }
    output.update({name: value for name, value in optional.items() if value})
    return output


@sagemaker.operation
def list_inference_recommendations_jobs(ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
    """ModelPackageVersionArnEquals matches no job: model packages are not served."""
    recommendation_runner(ctx.storage)
    table = RECOMMENDATION_JOBS.table
    wire = dict(request)
    if wire.get("StatusEquals"):
        wire["StatusEquals"] = table_status(wire["StatusEquals"])
    if wire.get("ModelPackageVersionArnEquals"):
        return {"InferenceRecommendationsJobs": []}  # no job of Nimbus benchmarks a model package
    extra = {"ModelNameEquals": lambda value: table.c.model_name == value}
    return list_jobs(ctx, table, wire, _summary, "InferenceRecommendationsJobs", extra)


def _summary(job: Row[Any]) -> dict[str, Any]:
    summary = {
        "JobName": job.name,
        "JobDescription": job.request.get("JobDescription", ""),
        "JobType": job.request["JobType"],
        "JobArn": RECOMMENDATION_JOBS.arn((job.account_id, job.region, job.name)),
        "Status": wire_status(job.status),
        "CreationTime": job.created_at,
        "RoleArn": job.request["RoleArn"],
        "LastModifiedTime": job.last_modified,
        "ModelName": job.model_name,
        "SamplePayloadUrl": job.request["InputConfig"]["ContainerConfig"]["PayloadConfig"][
            "SamplePayloadUrl"
        ],
    }
    optional = {"CompletionTime": job.completion_time, "FailureReason": job.failure_reason}
    return summary | {name: value for name, value in optional.items() if value is not None}


@sagemaker.operation
def list_inference_recommendations_job_steps(ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
    recommendation_runner(ctx.storage)
    steps = _find(ctx, request["JobName"]).steps
    if request.get("Status"):
        steps = [step for step in steps if step["Status"] == request["Status"]]
    if request.get("StepType"):
        steps = [step for step in steps if step["StepType"] == request["StepType"]]
    start = token_offset(request.get("NextToken"))
    size = request.get("MaxResults") or DEFAULT_PAGE_SIZE
    output: dict[str, Any] = {"Steps": steps[start : start + size]}
    if start + size < len(steps):
        output["NextToken"] = offset_token(start + size)
    return output


@sagemaker.operation
def stop_inference_recommendations_job(ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
    """The load test stops at the end of its current traffic step; the job is then STOPPED."""
    runner = recommendation_runner(ctx.storage)
    job = _find(ctx, request["JobName"])
    key = (job.account_id, job.region, job.name)
    if not RECOMMENDATION_JOBS.move(ctx.storage, key, "Stopping"):
        raise validation_error(
            f"The job {job.name} is {wire_status(job.status)}; only IN_PROGRESS jobs can be stopped."
        )
    runner.stop(key)
    return {}


# At start, jobs a restart interrupted are marked Failed (or Stopped, when they were being stopped).
sagemaker.on_startup(recommendation_runner)
