"""Processing jobs: create, describe, list, stop."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy.engine import Row

from nimbus.services.registry import RequestContext
from nimbus.services.sagemaker import sagemaker
from nimbus.services.sagemaker.containers import check_container_image, is_container_image
from nimbus.services.sagemaker.errors import resource_not_found, validation_error
from nimbus.services.sagemaker.images import FRAMEWORKS, image_family
from nimbus.services.sagemaker.job_lists import list_jobs
from nimbus.services.sagemaker.job_table import JobKey
from nimbus.services.sagemaker.processing.layout import LOCAL_ROOT
from nimbus.services.sagemaker.processing.runner import PROCESSING_JOBS, processing_runner
from nimbus.services.sagemaker.s3_locations import split_s3_uri

# members echoed back by DescribeProcessingJob as they were given
ECHOED = (
    "ProcessingInputs",
    "ProcessingOutputConfig",
    "ProcessingResources",
    "StoppingCondition",
    "AppSpecification",
    "Environment",
    "NetworkConfig",
    "RoleArn",
    "ExperimentConfig",
)


def _key(ctx: RequestContext, name: str) -> JobKey:
    return ctx.caller.account_id, ctx.region, name


def _missing(name: str) -> Exception:
    return resource_not_found(f"Processing job {name} does not exist.")


@sagemaker.operation
def create_processing_job(ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
    """Runs in the scikit-learn, XGBoost and PyTorch framework images (the Python Nimbus runs, with
    its packages) by the job's ContainerEntrypoint, which Nimbus requires: the images have no default
    one here. Each instance is a sandboxed process on this machine that reaches Nimbus's APIs as its
    RoleArn (no network and no credentials with NetworkConfig.EnableNetworkIsolation), with
    ``/opt/ml/processing`` made of its inputs and outputs and
    ``/opt/ml/config/resourceconfig.json``; it needs bubblewrap. Inputs are S3 (S3Prefix or
    ManifestFile) in File mode, read in place; outputs are uploaded when every instance has exited 0
    (Continuous uploads at the end too). Not served: Pipe mode, DatasetDefinition inputs,
    FeatureStoreOutput."""
    runner = processing_runner(ctx.storage)
    image = request["AppSpecification"]["ImageUri"]
    if is_container_image(ctx.storage, image, ctx.caller.account_id, ctx.region):
        check_container_image(ctx.storage, image, ctx.caller.account_id, ctx.region)
        _check_io(request)
    else:
        _check(request)
    key = _key(ctx, request["ProcessingJobName"])
    PROCESSING_JOBS.insert(
        ctx.storage, key, ctx.caller.arn, request, exit_message=None, processing_start=datetime.now(UTC)
    )
    runner.submit(key)
    return {"ProcessingJobArn": PROCESSING_JOBS.arn(key)}


def _check(request: dict[str, Any]) -> None:
    """What SageMaker refuses, and what Nimbus cannot run, is refused before anything is stored."""
    application = request["AppSpecification"]
    family = image_family(application["ImageUri"])
    if family not in FRAMEWORKS:
        raise validation_error(
            f"Nimbus runs processing jobs in the framework images ({', '.join(FRAMEWORKS)}), not in "
            f"{application['ImageUri']}."
        )
    if not application.get("ContainerEntrypoint"):
        raise validation_error(
            "Nimbus needs AppSpecification.ContainerEntrypoint: its images have no default."
        )
    _check_io(request)


def _check_io(request: dict[str, Any]) -> None:
    inputs = request.get("ProcessingInputs") or []
    outputs = (request.get("ProcessingOutputConfig") or {}).get("Outputs") or []
    names = [item["InputName"] for item in inputs] + [item["OutputName"] for item in outputs]
    if len(set(names)) != len(names):
        raise validation_error("InputName and OutputName values must be unique within a processing job.")
    paths = [_check_input(item) for item in inputs] + [_check_output(item) for item in outputs]
    for path in paths:
        nested = [other for other in paths if other != path and other.startswith(path.rstrip("/") + "/")]
        if paths.count(path) > 1 or nested:
            raise validation_error(f"LocalPath {path} is used twice, or holds another input's or output's.")


def _check_input(item: dict[str, Any]) -> str:
    source = item.get("S3Input")
    if source is None:
        raise validation_error(
            f"Input {item['InputName']}: Nimbus reads S3Input inputs only (no DatasetDefinition)."
        )
    if source.get("S3InputMode", "File") != "File":
        raise validation_error(f"Input {item['InputName']}: Nimbus reads inputs in File mode only.")
    if source.get("S3CompressionType", "None") != "None":
        raise validation_error(f"Input {item['InputName']}: S3CompressionType Gzip needs Pipe mode.")
    _check_uri(source["S3Uri"])
    return _check_local_path(item["InputName"], source.get("LocalPath"))


def _check_output(item: dict[str, Any]) -> str:
    target = item.get("S3Output")
    if target is None:
        raise validation_error(f"Output {item['OutputName']}: Nimbus writes S3Output outputs only.")
    _check_uri(target["S3Uri"])
    return _check_local_path(item["OutputName"], target.get("LocalPath"))


def _check_local_path(name: str, path: str | None) -> str:
    if not path or not path.startswith(LOCAL_ROOT) or ".." in path.split("/"):
        raise validation_error(f"{name}: LocalPath must be a path under {LOCAL_ROOT}.")
    return path


def _check_uri(uri: str) -> None:
    try:
        split_s3_uri(uri)
    except ValueError:
        raise validation_error(f"{uri!r} is not an S3 URI (s3://bucket/prefix).") from None


@sagemaker.operation
def describe_processing_job(ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
    processing_runner(ctx.storage)
    key = _key(ctx, request["ProcessingJobName"])
    job = PROCESSING_JOBS.find(ctx.storage, key)
    if job is None:
        raise _missing(key[2])
    output: dict[str, Any] = {name: job.request[name] for name in ECHOED if name in job.request}
    output.update(
        {
            "ProcessingJobName": job.name,
            "ProcessingJobArn": PROCESSING_JOBS.arn(key),
            "ProcessingJobStatus": job.status,
            "CreationTime": job.created_at,
            "LastModifiedTime": job.last_modified,
        }
    )
    optional = {
        "FailureReason": job.failure_reason,
        "ExitMessage": job.exit_message,
        "ProcessingStartTime": job.processing_start,
        "ProcessingEndTime": job.processing_end,
    }
    output.update({name: value for name, value in optional.items() if value is not None})
    return output


@sagemaker.operation
def list_processing_jobs(ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
    processing_runner(ctx.storage)
    return list_jobs(ctx, PROCESSING_JOBS.table, request, _summary, "ProcessingJobSummaries")


def _summary(job: Row[Any]) -> dict[str, Any]:
    summary = {
        "ProcessingJobName": job.name,
        "ProcessingJobArn": PROCESSING_JOBS.arn((job.account_id, job.region, job.name)),
        "CreationTime": job.created_at,
        "LastModifiedTime": job.last_modified,
        "ProcessingJobStatus": job.status,
    }
    optional = {
        "ProcessingEndTime": job.processing_end,
        "FailureReason": job.failure_reason,
        "ExitMessage": job.exit_message,
    }
    return summary | {name: value for name, value in optional.items() if value is not None}


@sagemaker.operation
def stop_processing_job(ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
    """Every instance's process tree is killed at once; no output is uploaded."""
    runner = processing_runner(ctx.storage)
    key = _key(ctx, request["ProcessingJobName"])
    job = PROCESSING_JOBS.find(ctx.storage, key)
    if job is None:
        raise _missing(key[2])
    if not PROCESSING_JOBS.move(ctx.storage, key, "Stopping"):
        raise validation_error(
            f"The processing job {job.name} is in status {job.status}; only InProgress jobs can be stopped."
        )
    runner.stop(key)
    return {}


# At start, jobs a restart interrupted are marked Failed (or Stopped, when they were being stopped).
sagemaker.on_startup(processing_runner)
