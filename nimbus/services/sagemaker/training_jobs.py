"""Training jobs: create, describe, list, stop."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.exc import IntegrityError

from nimbus.services.registry import RequestContext
from nimbus.services.sagemaker import sagemaker
from nimbus.services.sagemaker.augmented_manifests import AUGMENTED, check_augmented_channel, is_augmented
from nimbus.services.sagemaker.containers import check_container_image, is_container_image
from nimbus.services.sagemaker.errors import not_found, resource_in_use, validation_error
from nimbus.services.sagemaker.images import image_runtime, training_runtime
from nimbus.services.sagemaker.job_lists import list_jobs
from nimbus.services.sagemaker.job_records import JOBS, JobKey, find_job, insert_job, job_arn
from nimbus.services.sagemaker.jobs import training_runner
from nimbus.services.sagemaker.s3_locations import split_s3_uri

# members echoed back by DescribeTrainingJob as they were given
ECHOED = (
    "HyperParameters",
    "AlgorithmSpecification",
    "RoleArn",
    "InputDataConfig",
    "OutputDataConfig",
    "ResourceConfig",
    "VpcConfig",
    "StoppingCondition",
    "EnableNetworkIsolation",
    "EnableInterContainerTrafficEncryption",
    "EnableManagedSpotTraining",
    "CheckpointConfig",
    "Environment",
    "RetryStrategy",
    "Tags",
)


def _key(ctx: RequestContext, name: str) -> JobKey:
    return ctx.caller.account_id, ctx.region, name


@sagemaker.operation
def create_training_job(ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
    """Runs on this machine, one instance (InstanceCount must be 1), with the image's algorithm or the
    user's script in a sandbox instead of a container (docs/sagemaker.md); channels are read in place
    from Nimbus S3 (S3Prefix or ManifestFile), or streamed to the channel's pipe (AugmentedManifestFile,
    Pipe mode only, as in AWS)."""
    runner = training_runner(ctx.storage)
    image = request["AlgorithmSpecification"].get("TrainingImage", "")
    in_container = is_container_image(ctx.storage, image, ctx.caller.account_id, ctx.region)
    if in_container:
        check_container_image(ctx.storage, image, ctx.caller.account_id, ctx.region)
    check_training_request(request, in_container)
    key = _key(ctx, request["TrainingJobName"])
    try:
        insert_job(ctx.storage, key, ctx.caller.arn, request)
    except IntegrityError:
        raise resource_in_use(
            "Training job names must be unique within an AWS account and region, and a training job "
            f"with this name already exists ({job_arn(key)})"
        ) from None
    runner.submit(key)
    return {"TrainingJobArn": job_arn(key)}


def check_training_request(request: dict[str, Any], in_container: bool = False) -> None:
    """What Nimbus cannot run is refused before anything is stored; ``in_container``: the image is
    the user's own (checked by containers.check_container_image)."""
    algorithm = request["AlgorithmSpecification"]
    if "TrainingImage" not in algorithm:
        raise validation_error(
            "Nimbus runs training images only: AlgorithmSpecification.TrainingImage is required."
        )
    if in_container:
        image_runtime(algorithm)
    else:
        training_runtime(algorithm, request.get("HyperParameters") or {})
    if request["ResourceConfig"].get("InstanceCount", 1) != 1:
        raise validation_error("Nimbus trains on one instance: ResourceConfig.InstanceCount must be 1.")
    names = [channel["ChannelName"] for channel in request.get("InputDataConfig") or []]
    if len(set(names)) != len(names):
        raise validation_error("Channel names in InputDataConfig must be unique.")
    for channel in request.get("InputDataConfig") or []:
        source = channel["DataSource"].get("S3DataSource")
        if source is None or source["S3DataType"] not in ("S3Prefix", "ManifestFile", AUGMENTED):
            raise validation_error(
                f"Channel {channel['ChannelName']}: Nimbus reads S3DataSource channels of type S3Prefix, "
                "ManifestFile or AugmentedManifestFile."
            )
        if is_augmented(channel):
            check_augmented_channel(channel, channel.get("InputMode") or algorithm["TrainingInputMode"])
        _check_uri(source["S3Uri"])
    _check_uri(request["OutputDataConfig"]["S3OutputPath"])


def _check_uri(uri: str) -> None:
    try:
        split_s3_uri(uri)
    except ValueError:
        raise validation_error(f"{uri!r} is not an S3 URI (s3://bucket/prefix).") from None


@sagemaker.operation
def describe_training_job(ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
    """WarmPoolStatus, profiler and debugger members are not reported; TrainingTimeInSeconds and
    BillableTimeInSeconds are the wall time of the training process."""
    training_runner(ctx.storage)
    key = _key(ctx, request["TrainingJobName"])
    job = find_job(ctx.storage, key)
    if job is None:
        raise not_found()
    output: dict[str, Any] = {name: job.request[name] for name in ECHOED if name in job.request}
    output.pop("Tags", None)
    output.update(
        {
            "TrainingJobName": job.name,
            "TrainingJobArn": job_arn(key),
            "ModelArtifacts": {"S3ModelArtifacts": job.model_artifacts},
            "TrainingJobStatus": job.status,
            "SecondaryStatus": job.secondary_status,
            "CreationTime": job.created_at,
            "LastModifiedTime": job.last_modified,
            "SecondaryStatusTransitions": [_transition(t) for t in job.transitions],
            "FinalMetricDataList": [
                {**metric, "Timestamp": datetime.fromisoformat(metric["Timestamp"])}
                for metric in job.final_metrics
            ],
        }
    )
    optional = {
        "FailureReason": job.failure_reason,
        "TrainingStartTime": job.training_start,
        "TrainingEndTime": job.training_end,
        "BillableTimeInSeconds": job.billable_seconds,
        "TrainingTimeInSeconds": job.billable_seconds,
        "TuningJobArn": job.tuning_job_arn,
    }
    output.update({name: value for name, value in optional.items() if value is not None})
    return output


def _transition(transition: dict[str, Any]) -> dict[str, Any]:
    return {
        **transition,
        **{
            name: datetime.fromisoformat(transition[name])
            for name in ("StartTime", "EndTime")
            if name in transition
        },
    }


@sagemaker.operation
def list_training_jobs(ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
    """WarmPoolStatusEquals and TrainingPlanArnContains match no job (Nimbus keeps no warm pools or plans)."""
    training_runner(ctx.storage)
    no_job = {
        "WarmPoolStatusEquals": lambda value: JOBS.c.name.is_(None),
        "TrainingPlanArnContains": lambda value: JOBS.c.name.is_(None),
    }
    return list_jobs(ctx, JOBS, request, _summary, "TrainingJobSummaries", no_job)


def _summary(job: Any) -> dict[str, Any]:
    summary = {
        "TrainingJobName": job.name,
        "TrainingJobArn": job_arn((job.account_id, job.region, job.name)),
        "CreationTime": job.created_at,
        "LastModifiedTime": job.last_modified,
        "TrainingJobStatus": job.status,
        "SecondaryStatus": job.secondary_status,
    }
    return summary | ({"TrainingEndTime": job.training_end} if job.training_end else {})


@sagemaker.operation
def stop_training_job(ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
    """The job's process tree is killed at once (AWS sends SIGTERM and waits up to 120 s); no model
    is uploaded."""
    runner = training_runner(ctx.storage)
    key = _key(ctx, request["TrainingJobName"])
    job = find_job(ctx.storage, key)
    if job is None:
        raise not_found()
    if job.status != "InProgress" or not runner.stop(key):
        raise validation_error(
            f"The training job {job.name} is in status {job.status}; only InProgress jobs can be stopped."
        )
    return {}


# At start, jobs a restart interrupted are marked Failed and the runner picks up queued ones.
sagemaker.on_startup(training_runner)
