"""The durable processing runner: job state lives in the database; a thread of the server process runs
each job, one sandboxed process per instance at once (the job's ContainerEntrypoint and
ContainerArguments), each instance's output in its own CloudWatch Logs stream. When every instance
has exited 0, each output folder is written to its S3 URI through S3's own write path.

At start, jobs an earlier Nimbus process left running are failed.
"""

from __future__ import annotations

import shutil
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from nimbus.engines.bubblewrap import bwrap_available
from nimbus.engines.learn.runs import Outcome, Program
from nimbus.services.iam.role_access import RoleAccess
from nimbus.services.job_runners import RunnerPerStorage
from nimbus.services.leases import LeasedStops
from nimbus.services.registry import Caller
from nimbus.services.sagemaker.containers import is_container_image, pullable_image
from nimbus.services.sagemaker.job_records import DEFAULT_MAX_RUNTIME_S
from nimbus.services.sagemaker.job_table import JobKey, JobTable
from nimbus.services.sagemaker.processing.layout import Instance, prepare_instances
from nimbus.services.sagemaker.s3_locations import (
    JobFailure,
    readable_objects,
    require_role,
    split_s3_uri,
    write_object,
)
from nimbus.services.sagemaker.sandbox_runs import LogStream, run_logged
from nimbus.services.sts.role_credentials import SAGEMAKER, role_environment
from nimbus.storage import Storage
from nimbus.storage.processing_schema import ProcessingJobRecord

PROCESSING_JOBS = JobTable(ProcessingJobRecord.__table__, "processing-job", "processing_end")
LOG_GROUP = "/aws/sagemaker/ProcessingJobs"
EXIT_MESSAGE = "message"  # /opt/ml/output/message: what the container says about its end
EXIT_MESSAGE_CHARS = 1024


class ProcessingRunner:
    def __init__(self, storage: Storage) -> None:
        self.storage = storage
        self._stops = LeasedStops(storage, PROCESSING_JOBS.lease_kind)  # stops asked on any node reach it

    def submit(self, key: JobKey) -> None:
        self._stops.start(key)
        threading.Thread(target=self._run, args=(key,), name=f"processing-{key[2]}", daemon=True).start()

    def stop(self, key: JobKey) -> None:
        self._stops.stop(key)

    def _run(self, key: JobKey) -> None:
        folder = self.storage.data_dir.joinpath("sagemaker", "processing", *key)
        try:
            run_processing_job(self.storage, key, folder, self._stops[key])
        except JobFailure as failure:
            PROCESSING_JOBS.move(self.storage, key, "Failed", failure_reason=str(failure)[:1024])
        except Exception as error:  # a bug in Nimbus must still end the job, never leave it running
            reason = f"InternalServerError: {error!r}"[:1024]
            PROCESSING_JOBS.move(self.storage, key, "Failed", failure_reason=reason)
        finally:
            self._stops.finish(key)
            shutil.rmtree(folder, ignore_errors=True)


def run_processing_job(storage: Storage, key: JobKey, root: Path, stop: threading.Event) -> None:
    job = PROCESSING_JOBS.find(storage, key)
    assert job is not None
    request: dict[str, Any] = job.request
    application = request["AppSpecification"]
    access = RoleAccess(storage, request["RoleArn"], key[2])  # SageMaker pulls, moves the data as the role
    container = None
    if is_container_image(storage, application["ImageUri"], key[0], key[1]):
        container = pullable_image(storage, application["ImageUri"], key[0], key[1], access)
    elif not bwrap_available():
        raise JobFailure(
            "ClientError: processing jobs need bubblewrap (bwrap) to give the container /opt/ml/processing."
        )
    inputs = [
        (item, _input_files(storage, item["S3Input"], access))
        for item in request.get("ProcessingInputs") or []
    ]
    instances = prepare_instances(root, request, PROCESSING_JOBS.arn(key), inputs)
    limit = (request.get("StoppingCondition") or {}).get("MaxRuntimeInSeconds", DEFAULT_MAX_RUNTIME_S)
    deadline = time.monotonic() + limit
    started = int(datetime.now(UTC).timestamp())
    entrypoint = application.get("ContainerEntrypoint")
    arguments = application.get("ContainerArguments") or []
    command = arguments if container else [*entrypoint, *arguments]

    isolated = bool((request.get("NetworkConfig") or {}).get("EnableNetworkIsolation"))
    role, note = role_environment(storage, request["RoleArn"], SAGEMAKER, key[2], key[1], isolated)

    def run(instance: Instance) -> Outcome:
        program = Program(
            command,
            instance.root,
            instance.binds,
            request["ProcessingResources"]["ClusterConfig"]["InstanceType"],
            environment={**(request.get("Environment") or {}), **role},
            network=not isolated,  # the code reaches Nimbus's APIs, as its execution role
            container=container,
            entrypoint=entrypoint if container else None,
            hostname=instance.host,
        )
        stream = LogStream(key[0], key[1], LOG_GROUP, f"{key[2]}/{instance.host}-{started}")
        stream.say(storage, note)
        return run_logged(storage, program, stream, stop, deadline)

    with ThreadPoolExecutor(len(instances), thread_name_prefix=f"processing-{key[2]}") as pool:
        outcomes = list(pool.map(run, instances))
    message = _exit_message(instances)
    codes = [outcome.code for outcome in outcomes]
    if stop.is_set() or "Stopped" in codes:
        PROCESSING_JOBS.move(storage, key, "Stopped", exit_message=message)
        return
    if "MaxRuntimeExceeded" in codes:
        raise JobFailure(f"ClientError: the job ran longer than its MaxRuntimeInSeconds ({limit} seconds).")
    for instance, outcome in zip(instances, outcomes, strict=True):
        if outcome.code != 0:
            PROCESSING_JOBS.move(
                storage,
                key,
                "Failed",
                exit_message=message,
                failure_reason=(
                    f"AlgorithmError: See job logs for more information ({instance.host} exited with "
                    f"{outcome.code}: {' | '.join(outcome.tail)})"
                )[:1024],
            )
            return
    caller = Caller("", key[0], key[0], job.caller_arn)
    for instance in instances:
        for uri, folder in instance.outputs:
            _upload_folder(storage, caller, key[1], folder, uri, access)
    PROCESSING_JOBS.move(storage, key, "Completed", exit_message=message)


def _input_files(storage: Storage, source: dict[str, Any], access: RoleAccess) -> dict[Path, str]:
    return {item.path: item.relative for item in readable_objects(storage, source, access)}


def _exit_message(instances: list[Instance]) -> str | None:
    """The first instance's ``/opt/ml/output/message``, when it wrote one."""
    path = instances[0].root / "output" / EXIT_MESSAGE
    return path.read_text(errors="replace")[:EXIT_MESSAGE_CHARS] if path.is_file() else None


def _upload_folder(
    storage: Storage, caller: Caller, region: str, folder: Path, uri: str, access: RoleAccess
) -> None:
    """Every file under ``folder`` as an object under ``uri``, at its path relative to the folder,
    each written as the job's role may write it."""
    prefix = uri.rstrip("/")
    for path in sorted(folder.rglob("*")):
        if path.is_file():
            relative = path.relative_to(folder).as_posix()
            bucket, key = split_s3_uri(f"{prefix}/{relative}")
            require_role(
                access, "s3:PutObject", f"arn:aws:s3:::{bucket}/{key}", "Failed to upload the output"
            )
            with path.open("rb") as body:
                write_object(
                    storage,
                    caller,
                    region,
                    f"{prefix}/{relative}",
                    body,
                    "application/octet-stream",
                    relative,
                )


processing_runner: RunnerPerStorage[ProcessingRunner] = RunnerPerStorage(
    ProcessingRunner, PROCESSING_JOBS.fail_interrupted, leased=True
)
"""This process's ProcessingRunner for a storage, made on first use after interrupted jobs failed."""
