"""The durable training runner: job state lives in the database; a thread of the server process runs
each job as its own sandboxed process, streams its output into CloudWatch Logs and moves its status
along Starting -> Downloading -> Training -> Uploading -> Completed (or Failed / Stopped).

The runner starts with the first SageMaker request a Nimbus process serves, and first fails the jobs
an earlier process left running ("Nimbus restarted while the job was running").
"""

from __future__ import annotations

import json
import math
import os
import shutil
import subprocess
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from nimbus.engines.learn.sandbox import JobFolder, prepare_job_folder, start_sandboxed, stop_sandboxed
from nimbus.services.job_runners import RunnerPerStorage
from nimbus.services.logs.records import append_events
from nimbus.services.registry import Caller
from nimbus.services.sagemaker.images import Runtime, training_runtime
from nimbus.services.sagemaker.instances import describe_limits, instance_limits
from nimbus.services.sagemaker.job_records import LOG_GROUP, JobKey, advance, fail_interrupted_jobs, find_job
from nimbus.services.sagemaker.s3_locations import (
    ArchiveUnreadable,
    JobFailure,
    channel_files,
    extract_archive,
    manifest_files,
    upload_model,
)
from nimbus.storage import Storage

POLL_S = 0.25
SUBMIT_DIRECTORY = "sagemaker_submit_directory"
FAILURE_TAIL_LINES = 5


class TrainingRunner:
    def __init__(self, storage: Storage) -> None:
        self.storage = storage
        self.cpus = max(1, len(os.sched_getaffinity(0)))
        self._slots = threading.Semaphore(self.cpus)  # jobs training at once; the rest wait "Starting"
        self._stops: dict[JobKey, threading.Event] = {}

    def submit(self, key: JobKey) -> None:
        self._stops[key] = threading.Event()
        threading.Thread(target=self._run, args=(key,), name=f"training-{key[2]}", daemon=True).start()

    def stop(self, key: JobKey) -> None:
        event = self._stops.get(key)
        if event is not None:
            event.set()

    def _run(self, key: JobKey) -> None:
        folder = self.storage.data_dir / "sagemaker" / "training" / key[0] / key[1] / key[2]
        try:
            with self._slots:
                run_job(self.storage, key, folder, self._stops[key])
        except JobFailure as failure:
            advance(
                self.storage,
                key,
                "Failed",
                "Failed",
                failure_reason=str(failure)[:1024],
                training_end=datetime.now(UTC),
            )
        except Exception as error:  # a bug in Nimbus must still end the job, never leave it running
            advance(
                self.storage,
                key,
                "Failed",
                "Failed",
                failure_reason=f"InternalServerError: {error!r}"[:1024],
                training_end=datetime.now(UTC),
            )
        finally:
            self._stops.pop(key, None)
            shutil.rmtree(folder, ignore_errors=True)


def run_job(storage: Storage, key: JobKey, root: Path, stop: threading.Event) -> None:
    job = find_job(storage, key)
    assert job is not None
    request: dict[str, Any] = job.request
    hyperparameters = request.get("HyperParameters") or {}
    runtime = training_runtime(request["AlgorithmSpecification"], hyperparameters)
    if stop.is_set() or not advance(storage, key, "Downloading"):
        advance(storage, key, "Stopped", "Stopped", training_end=datetime.now(UTC))
        return
    channels = {
        c["ChannelName"]: _channel(storage, c["DataSource"]["S3DataSource"])
        for c in request.get("InputDataConfig") or []
    }
    folder = prepare_job_folder(root, _config_files(request), channels)
    if SUBMIT_DIRECTORY in hyperparameters:
        _fetch_code(storage, hyperparameters[SUBMIT_DIRECTORY], folder)
    started = datetime.now(UTC)
    if not advance(storage, key, "Training", training_start=started):
        advance(storage, key, "Stopped", "Stopped", training_end=datetime.now(UTC))
        return
    limit = request["StoppingCondition"].get("MaxRuntimeInSeconds", 86400)
    outcome, metrics, tail = _train(storage, key, job, runtime, folder, stop, limit)
    billed = {
        "billable_seconds": max(1, math.ceil((datetime.now(UTC) - started).total_seconds())),
        "final_metrics": metrics,
    }
    if outcome in ("Stopped", "MaxRuntimeExceeded"):
        advance(storage, key, outcome, "Stopped", training_end=datetime.now(UTC), **billed)
        return
    if outcome != 0:
        raise JobFailure(_failure_reason(folder, outcome, tail))
    advance(storage, key, "Uploading", **billed)
    caller = Caller("", key[0], key[0], job.caller_arn)
    upload_model(storage, caller, key[1], folder.model_dir, job.model_artifacts)
    advance(storage, key, "Completed", "Completed", training_end=datetime.now(UTC))


def _channel(storage: Storage, source: dict[str, Any]) -> dict[Path, str]:
    """A channel's object files: those under the S3 prefix, or those the manifest names."""
    if source["S3DataType"] == "ManifestFile":
        return manifest_files(storage, source["S3Uri"])
    return channel_files(storage, source["S3Uri"])


def _fetch_code(storage: Storage, encoded_uri: str, folder: JobFolder) -> None:
    """The user's ``source_dir`` (``sagemaker_submit_directory``, a JSON-encoded S3 URI of a tar.gz),
    extracted to ``/opt/ml/code`` as the framework containers do before they run the entry point."""
    try:
        uri = json.loads(encoded_uri)
    except ValueError:
        uri = encoded_uri
    try:
        extract_archive(storage, str(uri), folder.code_dir)
    except (ArchiveUnreadable, ValueError) as error:
        raise JobFailure(f"ClientError: could not read sagemaker_submit_directory: {error}") from None


def _config_files(request: dict[str, Any]) -> dict[str, Any]:
    """``/opt/ml/input/config``: hyperparameters, channels and the one "instance" of the cluster."""
    resources = request["ResourceConfig"]
    return {
        "hyperparameters.json": request.get("HyperParameters") or {},
        "inputdataconfig.json": {
            c["ChannelName"]: {
                key: value for key, value in c.items() if key not in ("ChannelName", "DataSource")
            }
            | {
                "TrainingInputMode": c.get("InputMode")
                or request["AlgorithmSpecification"]["TrainingInputMode"]
            }
            for c in request.get("InputDataConfig") or []
        },
        "resourceconfig.json": {
            "current_host": "algo-1",
            "hosts": ["algo-1"],
            "current_instance_type": resources.get("InstanceType"),
            "current_group_name": "homogeneousCluster",
            "network_interface_name": "eth0",
            "instance_groups": [
                {
                    "instance_group_name": "homogeneousCluster",
                    "instance_type": resources.get("InstanceType"),
                    "hosts": ["algo-1"],
                }
            ],
        },
    }


def _train(
    storage: Storage,
    key: JobKey,
    job: Any,
    runtime: Runtime,
    folder: JobFolder,
    stop: threading.Event,
    limit_s: int,
) -> tuple[int | str, list[dict[str, Any]], list[str]]:
    """Runs the sandboxed process to its end, a stop or its time limit, logging every line it prints.
    Returns its exit code (or "Stopped" / "MaxRuntimeExceeded"), its final metrics and its last lines."""
    instance_type = job.request["ResourceConfig"].get("InstanceType", "")
    limits = instance_limits(instance_type)
    stream = job.log_stream
    append_events(
        storage,
        key[0],
        key[1],
        LOG_GROUP,
        stream,
        [(int(time.time() * 1000), describe_limits(instance_type, limits))],
    )
    process = start_sandboxed(
        runtime.command,
        folder.root,
        folder.binds(),
        limits,
        environment=job.request.get("Environment") or {},
        die_with_thread=True,
    )
    lines: list[tuple[int, str]] = []
    lock = threading.Lock()
    reader = threading.Thread(target=_read_lines, args=(process, lines, lock), daemon=True)
    reader.start()
    deadline = time.monotonic() + limit_s
    outcome: int | str | None = None
    metrics: dict[str, float] = {}
    tail: list[str] = []
    while outcome is None or reader.is_alive():
        time.sleep(POLL_S)
        with lock:
            batch, lines[:] = list(lines), []
        append_events(storage, key[0], key[1], LOG_GROUP, stream, batch)
        for _, message in batch:
            metrics.update(runtime.metrics(message))
        tail = (tail + [message for _, message in batch])[-FAILURE_TAIL_LINES:]
        if outcome is None:
            outcome = _outcome(process, stop, deadline)
    when = datetime.now(UTC)
    final = [
        {"MetricName": name, "Value": value, "Timestamp": when.isoformat()} for name, value in metrics.items()
    ]
    return outcome, final, tail


def _outcome(process: subprocess.Popen[bytes], stop: threading.Event, deadline: float) -> int | str | None:
    """The exit code once the process ended; kills the whole tree when stopped or out of time."""
    code = process.poll()
    if code is not None:
        return code
    reason = "Stopped" if stop.is_set() else "MaxRuntimeExceeded" if time.monotonic() > deadline else None
    if reason is not None:
        stop_sandboxed(process)
    return reason


def _read_lines(process: subprocess.Popen[bytes], lines: list[tuple[int, str]], lock: threading.Lock) -> None:
    assert process.stdout is not None
    for raw in process.stdout:
        with lock:
            lines.append((int(time.time() * 1000), raw.decode("utf-8", errors="replace").rstrip("\n")))


def _failure_reason(folder: JobFolder, code: int, tail: list[str]) -> str:
    """What the algorithm wrote to ``/opt/ml/output/failure`` (as SageMaker reports it), else its
    last lines."""
    failure = folder.output_dir / "failure"
    if failure.exists() and failure.read_text().strip():
        return failure.read_text().strip()[:1024]
    return f"AlgorithmError: exit code {code}: " + " | ".join(tail)[-900:]


training_runner: RunnerPerStorage[TrainingRunner] = RunnerPerStorage(TrainingRunner, fail_interrupted_jobs)
"""This process's TrainingRunner for a storage, made on first use after fail_interrupted_jobs ran."""
