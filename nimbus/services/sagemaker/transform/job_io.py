"""What a job reads and writes wherever it runs: its model made ready, each object's ``.out`` object
under S3OutputPath, and its log streams in CloudWatch Logs."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, BinaryIO

from nimbus.services.logs.records import append_events
from nimbus.services.registry import Caller
from nimbus.services.sagemaker import deployment
from nimbus.services.sagemaker.s3_locations import JobFailure, write_object
from nimbus.services.sagemaker.transform.inputs import output_location
from nimbus.services.sagemaker.transform.job_rows import JobKey
from nimbus.services.sagemaker.workers import VariantSpec, WorkerFailed
from nimbus.storage import Storage

LOG_GROUP = "/aws/sagemaker/TransformJobs"


def job_model(storage: Storage, key: JobKey, request: dict[str, Any], folder: Path) -> VariantSpec:
    """The job's model extracted under ``folder`` (``model/``, and ``code/`` for a script), as a
    variant named after the job (so its workers' streams are ``<job>/instance-<n>``); JobFailure
    when the model is gone or its data cannot be read."""
    resources = request["TransformResources"]
    try:
        spec = deployment.model_variant(
            storage,
            key[0],
            key[1],
            request["ModelName"],
            key[2],
            resources["InstanceCount"],
            1.0,
            folder,
            resources["InstanceType"],
        )
    except WorkerFailed as error:
        raise JobFailure(f"ClientError: {error}") from None
    # the job's Environment is added to the model's, and wins where both name a variable
    return dataclasses.replace(spec, environment={**spec.environment, **(request.get("Environment") or {})})


class JobLog:
    """A data log (``[sagemaker logs]`` lines: the settings, and each object that failed), beside
    the stream ``stream`` that the model's output goes to."""

    def __init__(self, storage: Storage, key: JobKey, stream: str) -> None:
        self.storage, self.key = storage, key
        self.stream = f"{stream}/data-log"

    def data(self, lines: list[str]) -> None:
        now = datetime.now(UTC)
        stamp = now.strftime("%Y-%m-%dT%H:%M:%S.") + f"{now.microsecond // 1000:03d}"
        events = [(int(now.timestamp() * 1000), f"{stamp}:[sagemaker logs]: {line}") for line in lines]
        append_events(self.storage, self.key[0], self.key[1], LOG_GROUP, self.stream, events)


def log_lines(storage: Storage, key: JobKey, stream: str, lines: list[tuple[int, str]]) -> None:
    """Appends ``(time in ms, line)`` events to one of the job's streams."""
    append_events(storage, key[0], key[1], LOG_GROUP, stream, lines)


def upload_output(
    storage: Storage, key: JobKey, caller_arn: str, request: dict[str, Any], relative: str, body: BinaryIO
) -> None:
    """Writes an object's output as ``<S3OutputPath>/<relative>.out`` through S3's own write path;
    JobFailure when S3 refuses it."""
    destination = output_location(request, relative)
    content_type = request["TransformOutput"].get("Accept") or "application/octet-stream"
    caller = Caller("", key[0], key[0], caller_arn)
    write_object(storage, caller, key[1], destination, body, content_type, "the output")
