"""Batch transform jobs: create, describe, list, stop."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import insert
from sqlalchemy.engine import Row
from sqlalchemy.exc import IntegrityError

from nimbus.services.registry import RequestContext
from nimbus.services.sagemaker import sagemaker
from nimbus.services.sagemaker.errors import not_found, resource_in_use, validation_error
from nimbus.services.sagemaker.job_lists import list_jobs
from nimbus.services.sagemaker.models import find_model
from nimbus.services.sagemaker.s3_locations import split_s3_uri
from nimbus.services.sagemaker.transform.job_rows import JOBS, JobKey, find_job, job_arn, move
from nimbus.services.sagemaker.transform.plan import (
    DEFAULT_BATCH_STRATEGY,
    DEFAULT_MAX_CONCURRENT,
    DEFAULT_MAX_PAYLOAD_MB,
    MAX_PAYLOAD_MB,
    Plan,
)
from nimbus.services.sagemaker.transform.runner import transform_runner

# members echoed back by DescribeTransformJob as they were given (defaults filled in)
ECHOED = (
    "ModelName",
    "MaxConcurrentTransforms",
    "ModelClientConfig",
    "MaxPayloadInMB",
    "BatchStrategy",
    "Environment",
    "TransformInput",
    "TransformOutput",
    "TransformResources",
    "DataProcessing",
    "ExperimentConfig",
)
READABLE_SOURCES = ("S3Prefix", "ManifestFile")


def _key(ctx: RequestContext, name: str) -> JobKey:
    return ctx.caller.account_id, ctx.region, name


@sagemaker.operation
def create_transform_job(ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
    """Each instance is a worker process on this machine serving the model; input objects are read in
    place. With a Spark master configured (NIMBUS_SPARK_MASTER) the job is instead one spark-submit
    against it: one task per input object, the model loaded once per executor Python process and
    run in it, in-process and not sandboxed by Nimbus; executors must see the data dir at the same
    path (they read the objects and the model and write the outputs in place). There InstanceCount
    and InstanceType place nothing (the executors are the instances), MaxConcurrentTransforms is
    per object, and a request past InvocationsTimeoutInSeconds is retried without being cut off.
    Not served: DataCaptureConfig, S3DataType AugmentedManifestFile and Converse (refused here);
    KmsKeyId members are accepted and not applied. Without BatchStrategy the job uses MultiRecord
    (what the built-in containers' execution parameters ask). Filters and JoinSource are refused at
    creation for content types other than CSV and JSON."""
    runner = transform_runner(ctx.storage)
    request = _with_defaults(request)
    _check(request)
    key = _key(ctx, request["TransformJobName"])
    now = datetime.now(UTC)
    row = {
        "account_id": key[0],
        "region": key[1],
        "name": key[2],
        "caller_arn": ctx.caller.arn,
        "request": request,
        "status": "InProgress",
        "failure_reason": None,
        "created_at": now,
        "last_modified": now,
        "transform_start": now,
        "transform_end": None,
    }
    try:
        with ctx.storage.database.engine.begin() as connection:
            find_model(ctx, request["ModelName"], connection)
            connection.execute(insert(JOBS), row)
    except IntegrityError:
        raise resource_in_use(
            "Job name must be unique within an AWS account and region, and a job with this name "
            f"already exists ({job_arn(key)})"
        ) from None
    runner.submit(key)
    return {"TransformJobArn": job_arn(key)}


def _with_defaults(request: dict[str, Any]) -> dict[str, Any]:
    """The request as DescribeTransformJob reports it: the values the job runs with."""
    return {
        **request,
        "MaxConcurrentTransforms": request.get("MaxConcurrentTransforms") or DEFAULT_MAX_CONCURRENT,
        "MaxPayloadInMB": request.get("MaxPayloadInMB", DEFAULT_MAX_PAYLOAD_MB),
        "BatchStrategy": request.get("BatchStrategy") or DEFAULT_BATCH_STRATEGY,
        "TransformInput": {"CompressionType": "None", "SplitType": "None", **request["TransformInput"]},
        "TransformOutput": {"AssembleWith": "None", **request["TransformOutput"]},
    }


def _check(request: dict[str, Any]) -> None:
    """Combinations SageMaker refuses, and what Nimbus cannot run, are refused before anything is stored."""
    payload, concurrency = request["MaxPayloadInMB"], request["MaxConcurrentTransforms"]
    if payload > MAX_PAYLOAD_MB:
        raise validation_error(
            f"1 validation error detected: Value '{payload}' at 'maxPayloadInMB' failed to satisfy "
            f"constraint: Member must have value less than or equal to {MAX_PAYLOAD_MB}"
        )
    if payload * concurrency > MAX_PAYLOAD_MB:
        raise validation_error(
            f"MaxConcurrentTransforms ({concurrency}) x MaxPayloadInMB ({payload}) must not exceed "
            f"{MAX_PAYLOAD_MB} MB."
        )
    source = request["TransformInput"]["DataSource"]["S3DataSource"]
    if source["S3DataType"] not in READABLE_SOURCES:
        raise validation_error(f"Nimbus reads transform input of S3DataType {' or '.join(READABLE_SOURCES)}.")
    if request.get("DataCaptureConfig"):
        raise validation_error(
            "Nimbus does not capture batch transform data: DataCaptureConfig is not supported."
        )
    for uri in (source["S3Uri"], request["TransformOutput"]["S3OutputPath"]):
        try:
            split_s3_uri(uri)
        except ValueError:
            raise validation_error(f"{uri!r} is not an S3 URI (s3://bucket/prefix).") from None
    try:
        Plan.of(request)
    except ValueError as error:
        raise validation_error(str(error)) from None


@sagemaker.operation
def describe_transform_job(ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
    """LabelingJobArn and AutoMLJobArn are never set (Nimbus has neither)."""
    transform_runner(ctx.storage)
    key = _key(ctx, request["TransformJobName"])
    job = find_job(ctx.storage, key)
    if job is None:
        raise not_found()
    output: dict[str, Any] = {name: job.request[name] for name in ECHOED if name in job.request}
    output.update(
        {
            "TransformJobName": job.name,
            "TransformJobArn": job_arn(key),
            "TransformJobStatus": job.status,
            "CreationTime": job.created_at,
        }
    )
    optional = {
        "FailureReason": job.failure_reason,
        "TransformStartTime": job.transform_start,
        "TransformEndTime": job.transform_end,
    }
    output.update({name: value for name, value in optional.items() if value is not None})
    return output


@sagemaker.operation
def list_transform_jobs(ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
    transform_runner(ctx.storage)
    return list_jobs(ctx, JOBS, request, _summary, "TransformJobSummaries")


def _summary(job: Row[Any]) -> dict[str, Any]:
    summary = {
        "TransformJobName": job.name,
        "TransformJobArn": job_arn((job.account_id, job.region, job.name)),
        "CreationTime": job.created_at,
        "LastModifiedTime": job.last_modified,
        "TransformJobStatus": job.status,
    }
    optional = {"TransformEndTime": job.transform_end, "FailureReason": job.failure_reason}
    return summary | {name: value for name, value in optional.items() if value is not None}


@sagemaker.operation
def stop_transform_job(ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
    """Requests in flight are cut off at once (their workers are stopped); objects already written
    stay, the objects in progress get no ``.out``."""
    runner = transform_runner(ctx.storage)
    key = _key(ctx, request["TransformJobName"])
    job = find_job(ctx.storage, key)
    if job is None:
        raise not_found()
    if job.status == "Stopping":
        return {}
    if not move(ctx.storage, key, "Stopping"):
        raise validation_error(
            f"The transform job {job.name} is in status {job.status}; only InProgress jobs can be stopped."
        )
    runner.stop(key)
    return {}


# At start, jobs a restart interrupted are marked Failed (or Stopped, when they were being stopped).
sagemaker.on_startup(transform_runner)
