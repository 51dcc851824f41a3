"""The durable training runner: job state lives in the database; a thread of the server process runs
each job as its own sandboxed process, streams its output into CloudWatch Logs and moves its status
along Starting -> Downloading -> Training -> Uploading -> Completed (or Failed / Stopped).

The runner starts with the first SageMaker request a Nimbus process serves, and first fails the jobs
a stopped node left running; each job is held by a lease while it runs here (services/leases.py).
"""

from __future__ import annotations

import functools
import json
import math
import os
import shutil
import threading
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from nimbus.config import Settings
from nimbus.engines.containers.run import ContainerImage
from nimbus.engines.learn.cluster import host_names, instance_program, reserved_cluster
from nimbus.engines.learn.requirements import RequirementsFailed, environment_python
from nimbus.engines.learn.runs import POLL_S, Outcome, Program
from nimbus.engines.learn.sandbox import Bind, JobFolder, prepare_job_folder
from nimbus.services.iam.role_access import RoleAccess
from nimbus.services.job_runners import RunnerPerStorage
from nimbus.services.leases import LeasedStops
from nimbus.services.registry import Caller
from nimbus.services.sagemaker.augmented_manifests import is_augmented, write_pipe_stream
from nimbus.services.sagemaker.containers import is_container_image, pullable_image
from nimbus.services.sagemaker.images import SCRIPT_COMMAND, Runtime, image_runtime, training_runtime
from nimbus.services.sagemaker.instances import instance_limits
from nimbus.services.sagemaker.job_records import (
    LEASE_KIND,
    LOG_GROUP,
    JobKey,
    advance,
    fail_interrupted_jobs,
    find_job,
    job_arn,
)
from nimbus.services.sagemaker.s3_locations import (
    DOWNLOAD_FAILED,
    ArchiveUnreadable,
    JobFailure,
    extract_archive,
    readable_objects,
    require_role,
    split_s3_uri,
    upload_model,
)
from nimbus.services.sagemaker.sandbox_runs import LogStream, run_logged
from nimbus.services.sagemaker.training_metrics import publish_training_metrics
from nimbus.services.sagemaker.training_spark import train_on_spark
from nimbus.services.sts.role_credentials import SAGEMAKER, role_environment
from nimbus.storage import Storage

SUBMIT_DIRECTORY = "sagemaker_submit_directory"
# sees the metrics of each line a job prints, as it prints them
MetricsObserver = Callable[[dict[str, float]], None]


class TrainingRunner:
    def __init__(self, storage: Storage) -> None:
        self.storage = storage
        self.cpus = max(1, len(os.sched_getaffinity(0)))
        self._slots = threading.Semaphore(self.cpus)  # jobs training at once; the rest wait "Starting"
        self._stops = LeasedStops(storage, LEASE_KIND)  # a stop asked through any node reaches the job here

    def submit(self, key: JobKey, on_metrics: MetricsObserver | None = None) -> None:
        self._stops.start(key)
        threading.Thread(
            target=self._run, args=(key, on_metrics), name=f"training-{key[2]}", daemon=True
        ).start()

    def stop(self, key: JobKey) -> bool:
        """Moves an InProgress job to Stopping and kills its process; False for a job in another status."""
        if not advance(self.storage, key, "Stopping", "Stopping"):
            return False
        self._stops.stop(key)
        return True

    def _run(self, key: JobKey, on_metrics: MetricsObserver | None) -> None:
        folder = self.storage.data_dir / "sagemaker" / "training" / key[0] / key[1] / key[2]
        try:
            with self._slots:
                run_job(self.storage, key, folder, self._stops[key], on_metrics)
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
            self._stops.finish(key)
            shutil.rmtree(folder, ignore_errors=True)


def run_job(
    storage: Storage, key: JobKey, root: Path, stop: threading.Event, on_metrics: MetricsObserver | None
) -> None:
    job = find_job(storage, key)
    assert job is not None
    request: dict[str, Any] = job.request
    hyperparameters = request.get("HyperParameters") or {}
    algorithm = request["AlgorithmSpecification"]
    access = RoleAccess(storage, request["RoleArn"], key[2])  # SageMaker pulls, moves the data as the role
    container = None
    if is_container_image(storage, algorithm["TrainingImage"], key[0], key[1]):
        container = pullable_image(storage, algorithm["TrainingImage"], key[0], key[1], access)
    runtime = image_runtime(algorithm) if container else training_runtime(algorithm, hyperparameters)
    if stop.is_set() or not advance(storage, key, "Downloading"):
        advance(storage, key, "Stopped", "Stopped", training_end=datetime.now(UTC))
        return
    inputs = request.get("InputDataConfig") or []
    hosts = host_names(request["ResourceConfig"].get("InstanceCount", 1))
    shards = {
        c["ChannelName"]: _channel_shards(storage, c, access, len(hosts))
        for c in inputs
        if not is_augmented(c)
    }
    folders: list[JobFolder] = []
    for index, host in enumerate(hosts):
        channels = {name: shares[index] for name, shares in shards.items()}
        folder = prepare_job_folder(root / host, config_files(request, hosts, host), channels)
        for channel in filter(is_augmented, inputs):
            folder.pipes.append(channel["ChannelName"])
            write_pipe_stream(storage, channel, access, folder.pipe_file(channel["ChannelName"]))
        if SUBMIT_DIRECTORY in hyperparameters:
            _fetch_code(storage, hyperparameters[SUBMIT_DIRECTORY], folder, access)
        folders.append(folder)
    started = datetime.now(UTC)
    if not advance(storage, key, "Training", training_start=started):
        advance(storage, key, "Stopped", "Stopped", training_end=datetime.now(UTC))
        return
    limit = request["StoppingCondition"].get("MaxRuntimeInSeconds", 86400)
    outcome, metrics, failure = _train(
        storage, key, job, runtime, folders, stop, limit, on_metrics, container
    )
    billed = {
        "billable_seconds": max(1, math.ceil((datetime.now(UTC) - started).total_seconds())),
        "final_metrics": metrics,
    }
    if outcome in ("Stopped", "MaxRuntimeExceeded"):
        advance(storage, key, outcome, "Stopped", training_end=datetime.now(UTC), **billed)
        return
    if outcome != 0:
        raise JobFailure(failure)
    advance(storage, key, "Uploading", **billed)
    bucket, output_key = split_s3_uri(job.model_artifacts)
    require_role(
        access, "s3:PutObject", f"arn:aws:s3:::{bucket}/{output_key}", "Failed to upload model artifacts"
    )
    caller = Caller("", key[0], key[0], job.caller_arn)
    _gather_models(folders)
    upload_model(storage, caller, key[1], folders[0].model_dir, job.model_artifacts)
    advance(storage, key, "Completed", "Completed", training_end=datetime.now(UTC))


def _channel_shards(
    storage: Storage, channel: dict[str, Any], access: RoleAccess, count: int
) -> list[dict[Path, str]]:
    """Each instance's object files of a channel (those under the S3 prefix, or those the manifest
    names): all of them (FullyReplicated), or with ShardedByS3Key every ``count``-th of them in key
    order, from the instance's own place on (as processing jobs shard)."""
    source = channel["DataSource"]["S3DataSource"]
    found = sorted(readable_objects(storage, source, access), key=lambda item: item.relative)
    if source.get("S3DataDistributionType") != "ShardedByS3Key":
        return [{item.path: item.relative for item in found}] * count
    return [{item.path: item.relative for item in found[index::count]} for index in range(count)]


def _gather_models(folders: list[JobFolder]) -> None:
    """What every instance left in ``/opt/ml/model`` goes into the one model archive, as SageMaker
    aggregates it: moved into algo-1's folder (instances should not write the same names; when they
    do, algo-1's file is kept)."""
    primary = folders[0].model_dir
    for folder in folders[1:]:
        for path in sorted(folder.model_dir.rglob("*")):
            target = primary / path.relative_to(folder.model_dir)
            if path.is_dir() and not path.is_symlink():
                target.mkdir(exist_ok=True)
            elif not target.exists():
                path.replace(target)


def _fetch_code(storage: Storage, encoded_uri: str, folder: JobFolder, access: RoleAccess) -> None:
    """The user's ``source_dir`` (``sagemaker_submit_directory``, a JSON-encoded S3 URI of a tar.gz),
    extracted to ``/opt/ml/code`` as the framework containers do before they run the entry point,
    with the role's right to read it."""
    try:
        uri = json.loads(encoded_uri)
    except ValueError:
        uri = encoded_uri
    try:
        bucket, key = split_s3_uri(str(uri))
        require_role(access, "s3:GetObject", f"arn:aws:s3:::{bucket}/{key}", DOWNLOAD_FAILED)
        extract_archive(storage, str(uri), folder.code_dir)
    except (ArchiveUnreadable, ValueError) as error:
        raise JobFailure(f"ClientError: could not read sagemaker_submit_directory: {error}") from None


def config_files(
    request: dict[str, Any], hosts: Sequence[str] = ("algo-1",), host: str = "algo-1"
) -> dict[str, Any]:
    """``/opt/ml/input/config`` of the instance ``host`` of ``hosts``: hyperparameters, channels and
    the cluster, whose instances reach each other over the loopback interface (engines/learn/cluster.py)."""
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
            "current_host": host,
            "hosts": list(hosts),
            "current_instance_type": resources.get("InstanceType"),
            "current_group_name": "homogeneousCluster",
            "network_interface_name": "lo",
            "instance_groups": [
                {
                    "instance_group_name": "homogeneousCluster",
                    "instance_type": resources.get("InstanceType"),
                    "hosts": list(hosts),
                }
            ],
        },
    }


def _train(
    storage: Storage,
    key: JobKey,
    job: Any,
    runtime: Runtime,
    folders: list[JobFolder],
    stop: threading.Event,
    limit_s: int,
    on_metrics: MetricsObserver | None,
    container: ContainerImage | None = None,
) -> tuple[int | str, list[dict[str, Any]], str]:
    """Runs every instance's sandboxed process at once, to its end, a stop or the time limit, each
    logging every line it prints to a stream of its own; the first instance to fail stops the others.
    The instances run on this machine, or with a Spark master configured as the barrier tasks of one
    Spark application (a user's image runs here: Spark tasks start no containers). Returns the job's
    exit code (or "Stopped" / "MaxRuntimeExceeded"), its final metrics (algo-1's; ``on_metrics`` sees
    each line's metrics as they are printed: a tuning job's early stopping) and, for a failure, its
    reason, which names the failed instance when there are several."""
    hosts = [folder.root.name for folder in folders]
    metrics: dict[str, float] = {}

    def read_metrics(line: str) -> None:
        found = runtime.metrics(line)
        metrics.update(found)
        publish_training_metrics(storage, key, hosts[0], found)
        if found and on_metrics is not None:
            on_metrics(found)

    isolated = bool(job.request.get("EnableNetworkIsolation"))
    role, note = role_environment(storage, job.request["RoleArn"], SAGEMAKER, key[2], key[1], isolated)
    resources = job.request["ResourceConfig"]
    runs: list[tuple[Program, LogStream]] = []
    for folder, host in zip(folders, hosts, strict=True):
        stream = LogStream(key[0], key[1], LOG_GROUP, _host_stream(job.log_stream, host))
        command, binds = _script_environment(storage, runtime, folder, resources, stream)
        program = Program(
            command,
            folder.root,
            binds,
            resources.get("InstanceType", ""),
            environment={**(job.request.get("Environment") or {}), **role, **_job_variables(key)},
            network=not isolated,  # the code reaches Nimbus's APIs, as its execution role
            container=container,
            entrypoint=job.request["AlgorithmSpecification"].get("ContainerEntrypoint"),
            hostname=host,
        )
        stream.say(storage, note)
        runs.append((program, stream))
    master = Settings().spark_master if container is None else None
    if master:
        writes = [(program, functools.partial(stream.append, storage)) for program, stream in runs]
        spark_folder = folders[0].root.parent / "spark"
        outcomes, failed = train_on_spark(master, key[2], spark_folder, writes, stop, limit_s, read_metrics)
    else:
        outcomes, failed = _train_here(storage, key, runs, stop, limit_s, read_metrics)
    when = datetime.now(UTC)
    final = [
        {"MetricName": name, "Value": value, "Timestamp": when.isoformat()} for name, value in metrics.items()
    ]
    if stop.is_set() or not failed:
        return ("Stopped" if stop.is_set() else 0), final, ""
    host = failed[0]
    code = outcomes[host].code
    if not isinstance(code, int):
        return code, final, ""
    reason = _failure_reason(folders[hosts.index(host)], code, outcomes[host].tail)
    if len(hosts) > 1:
        kind, _, detail = reason.partition(": ")
        reason = f"{kind}: {host} failed: {detail}"[:1024]
    return code, final, reason


def _train_here(
    storage: Storage,
    key: JobKey,
    runs: list[tuple[Program, LogStream]],
    stop: threading.Event,
    limit_s: int,
    read_metrics: Callable[[str], None],
) -> tuple[dict[str, Outcome], list[str]]:
    """The instances on threads of this process, at the job's loopback addresses: each one's
    outcome, and the failed ones, first failure first."""
    deadline = time.monotonic() + limit_s
    halt = threading.Event()  # set by a stop or by the first instance that fails
    failed: list[str] = []
    outcomes: dict[str, Outcome] = {}
    errors: list[BaseException] = []

    def run(program: Program, stream: LogStream, addresses: dict[str, str], port: int) -> None:
        host = str(program.hostname)
        on_line = read_metrics if program is runs[0][0] else None
        try:
            instance = instance_program(program, addresses, port)
            outcome = outcomes[host] = run_logged(storage, instance, stream, halt, deadline, on_line)
        except BaseException as error:
            errors.append(error)
            halt.set()
            return
        if outcome.code not in (0, "Stopped"):
            failed.append(host)
            halt.set()

    with reserved_cluster(len(runs)) as cluster:
        # daemon threads, not a thread pool: an executor's threads are joined at interpreter exit, so
        # a running job would hold `nimbus serve` open after Ctrl-C
        threads = [
            threading.Thread(
                target=run,
                args=(program, stream, cluster.addresses(), cluster.rendezvous_port),
                name=f"training-{key[2]}-{program.hostname}",
                daemon=True,
            )
            for program, stream in runs
        ]
        for thread in threads:
            thread.start()
        while alive := [thread for thread in threads if thread.is_alive()]:
            alive[0].join(POLL_S)
            if stop.is_set():
                halt.set()
    if errors:
        raise errors[0]
    return outcomes, failed


def _host_stream(first: str, host: str) -> str:
    """The log stream of ``host``: ``<job>/algo-k-<epoch>``, from algo-1's as the job stores it."""
    return first.replace("/algo-1-", f"/{host}-", 1)


def _script_environment(
    storage: Storage, runtime: Runtime, folder: JobFolder, resources: dict[str, Any], stream: LogStream
) -> tuple[tuple[str, ...], list[Bind]]:
    """The command and binds of the job: in script mode with a ``requirements.txt`` in the source
    directory, its Python is that of an environment holding the requirements (seen at its own path)."""
    requirements = folder.code_dir / "requirements.txt"
    if runtime.command != SCRIPT_COMMAND or not requirements.is_file():
        return tuple(runtime.command), folder.binds()
    cache = storage.data_dir / "sagemaker" / "environments"
    limits = instance_limits(resources.get("InstanceType", ""))
    try:
        python = environment_python(
            requirements, cache, Settings().pip_index_url, limits, lambda line: stream.say(storage, line)
        )
    except RequirementsFailed as error:
        raise JobFailure(f"ClientError: {error}") from None
    environment = python.parent.parent
    return (str(python), *runtime.command[1:]), [*folder.binds(), Bind(environment, str(environment))]


def _job_variables(key: JobKey) -> dict[str, str]:
    """What SageMaker tells every training container about its job."""
    return {"TRAINING_JOB_NAME": key[2], "TRAINING_JOB_ARN": job_arn(key)}


def _failure_reason(folder: JobFolder, code: int, tail: list[str]) -> str:
    """What the algorithm wrote to ``/opt/ml/output/failure`` (as SageMaker reports it), else its
    last lines."""
    failure = folder.output_dir / "failure"
    if failure.exists() and failure.read_text().strip():
        return failure.read_text().strip()[:1024]
    return f"AlgorithmError: exit code {code}: " + " | ".join(tail)[-900:]


training_runner: RunnerPerStorage[TrainingRunner] = RunnerPerStorage(
    TrainingRunner, fail_interrupted_jobs, leased=True
)
"""This process's TrainingRunner for a storage, made on first use after fail_interrupted_jobs ran (and
runs on every heartbeat)."""
