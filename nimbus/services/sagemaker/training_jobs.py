"""Training jobs: create, describe, list, stop."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.exc import IntegrityError

from nimbus.engines.bubblewrap import bwrap_available
from nimbus.services.registry import RequestContext
from nimbus.services.sagemaker import sagemaker
from nimbus.services.sagemaker.augmented_manifests import AUGMENTED, check_augmented_channel, is_augmented
from nimbus.services.sagemaker.containers import check_container_image, is_container_image
from nimbus.services.sagemaker.errors import not_found, resource_in_use, validation_error
from nimbus.services.sagemaker.images import (
    SCRIPT_COMMAND,
    XGBOOST,
    Runtime,
    image_runtime,
    training_runtime,
)
from nimbus.services.sagemaker.job_lists import list_jobs
from nimbus.services.sagemaker.job_records import JOBS, JobKey, find_job, insert_job, job_arn
from nimbus.services.sagemaker.jobs import training_runner
from nimbus.services.sagemaker.s3_locations import split_s3_uri

# the SageMaker distributed data parallel library, as the SDK and older SDKs ask the container for it
SMDDP_HYPERPARAMETERS = ("sagemaker_distributed_dataparallel_enabled", "sagemaker_pytorch_ddp_enabled")
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
    """Runs on this machine, or with NIMBUS_SPARK_MASTER set as the barrier tasks of one Spark
    application on that cluster (a user's own image runs here), with the image's algorithm or the
    user's script in a sandbox instead of a container (docs/sagemaker.md); channels are read in place
    from Nimbus S3 (S3Prefix or ManifestFile), or streamed to the channel's pipe
    (AugmentedManifestFile, Pipe mode only, as in AWS). InstanceCount > 1 (script mode and the
    built-in XGBoost only) runs algo-1..algo-N as sandboxes whose hostnames resolve between them; the
    SageMaker distributed data parallel library (the SDK's pytorchddp) is refused, torch_distributed
    runs torchrun on each."""
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
    hyperparameters = request.get("HyperParameters") or {}
    if "TrainingImage" not in algorithm:
        raise validation_error(
            "Nimbus runs training images only: AlgorithmSpecification.TrainingImage is required."
        )
    runtime = image_runtime(algorithm) if in_container else training_runtime(algorithm, hyperparameters)
    _check_distribution(hyperparameters)
    if request["ResourceConfig"].get("InstanceGroups"):
        raise validation_error(
            "Nimbus runs homogeneous clusters: give ResourceConfig.InstanceType and InstanceCount "
            "instead of InstanceGroups."
        )
    if request["ResourceConfig"].get("InstanceCount", 1) > 1:
        _check_cluster(request, runtime, in_container)
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


def _check_distribution(hyperparameters: dict[str, str]) -> None:
    """The SageMaker distributed data parallel library (the SDK's ``pytorchddp`` and
    ``smdistributed.dataparallel``) is AWS's own NCCL-only code for multi-GPU instances: not here."""
    for name in SMDDP_HYPERPARAMETERS:
        if str(hyperparameters.get(name, "")).strip('"').lower() == "true":
            raise validation_error(
                f"Nimbus cannot run the SageMaker distributed data parallel library ({name}; the SDK's "
                'pytorchddp and smdistributed dataparallel): use distribution={"torch_distributed": '
                '{"enabled": True}}, which runs torchrun on every instance (gloo on CPUs, NCCL on GPUs).'
            )


def _check_cluster(request: dict[str, Any], runtime: Runtime, in_container: bool) -> None:
    """What runs on several instances: the user's script (it decides what each host does) and the
    built-in XGBoost, in bubblewrap sandboxes, which give each instance its hostname and the
    cluster's /etc/hosts."""
    count = request["ResourceConfig"]["InstanceCount"]
    if in_container or runtime.command not in (SCRIPT_COMMAND, XGBOOST.command):
        raise validation_error(
            f"Nimbus runs a user's training script (script mode) or the built-in XGBoost on {count} "
            "instances; the other built-in algorithms and the user's own images train on one instance "
            "(ResourceConfig.InstanceCount 1)."
        )
    if request.get("EnableNetworkIsolation"):
        raise validation_error(
            "Nimbus's instances reach each other on the host's loopback network, which network isolation "
            "takes away: with EnableNetworkIsolation, ResourceConfig.InstanceCount must be 1."
        )
    if not bwrap_available():
        raise validation_error(
            "Training on several instances needs bubblewrap (bwrap) on the Nimbus host, to give each "
            "instance its hostname: install it, or set ResourceConfig.InstanceCount to 1."
        )
    for channel in request.get("InputDataConfig") or []:
        sharded = channel["DataSource"]["S3DataSource"].get("S3DataDistributionType") == "ShardedByS3Key"
        if sharded and is_augmented(channel):
            raise validation_error(
                f"Channel {channel['ChannelName']}: Nimbus streams an AugmentedManifestFile whole to every "
                "instance: use S3DataDistributionType FullyReplicated."
            )


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
    """Every instance's process tree is killed at once (AWS sends SIGTERM and waits up to 120 s); no
    model is uploaded."""
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
