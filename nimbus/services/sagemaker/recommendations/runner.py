"""The durable runner of recommendation jobs: each job in a thread of the server process, its state in
the database, one benchmark step per candidate (instance type x environment).

Candidates of the same core count, GPU count and environment share one measurement: on this machine
an ml.c5.large and an ml.m5.large are the same two cores. A candidate with more vCPUs than the
machine is projected from measurements at 1, 2, 4... cores up to the machine's; a GPU candidate is
measured on this machine's GPU where there is one, and not measurable where there is none.
"""

from __future__ import annotations

import base64
import itertools
import shutil
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import update

from nimbus.engines import devices
from nimbus.engines.learn.sandbox import Limits
from nimbus.services.iam.role_access import RoleAccess
from nimbus.services.instance_catalog import GIB, InstanceType, instance_type, machine_limits
from nimbus.services.job_runners import RunnerPerStorage
from nimbus.services.leases import LeasedStops
from nimbus.services.sagemaker.deployment import model_variant
from nimbus.services.sagemaker.job_table import JobKey
from nimbus.services.sagemaker.recommendations import report
from nimbus.services.sagemaker.recommendations.benchmark import (
    BenchmarkFailed,
    LoadGenerator,
    LoadSettings,
    Measurement,
    Stopped,
    measure,
    variant,
)
from nimbus.services.sagemaker.recommendations.records import RECOMMENDATION_JOBS
from nimbus.services.sagemaker.recommendations.traffic import traffic_plan
from nimbus.services.sagemaker.s3_locations import ArchiveUnreadable, extract_archive, split_s3_uri
from nimbus.services.sagemaker.workers import WorkerFailed
from nimbus.services.sts.role_credentials import SAGEMAKER, role_environment, served_at
from nimbus.storage import Storage

# the candidates of a Default job that names no SupportedInstanceTypes: two sizes of the general and
# compute families (measured or projected here) and a GPU type
DEFAULT_INSTANCE_TYPES = ("ml.m5.large", "ml.c5.xlarge", "ml.m5.xlarge", "ml.g4dn.xlarge")
VARIANT = "AllTraffic"
DEFAULT_PERCENTILE = "P95"
DEFAULT_DURATION_S = 7200


@dataclass(frozen=True)
class Candidate:
    instance: InstanceType
    environment: dict[str, str]
    count: int = 1

    def measurement_keys(self, machine_cpus: int) -> list[tuple[int, int]]:
        """The (cores, GPUs) it is measured at; none when it cannot be measured here."""
        if self.instance.has_gpu:
            gpus = machine_limits(self.instance).gpus
            return [(min(self.instance.vcpus, machine_cpus), gpus)] if gpus else []
        if self.instance.vcpus <= machine_cpus:
            return [(self.instance.vcpus, 0)]
        return [(cores, 0) for cores in scaling_points(machine_cpus)]


def scaling_points(machine_cpus: int) -> list[int]:
    """1, 2, 4... cores up to the machine's, and the machine's."""
    powers = itertools.takewhile(lambda cores: cores <= machine_cpus, (1 << n for n in itertools.count()))
    return sorted({*powers, machine_cpus})


def candidates(request: dict[str, Any]) -> list[Candidate]:
    """Each endpoint configuration (or Default's types) with each combination of its environment
    ranges, as many as ResourceLimit.MaxNumberOfTests allows."""
    config = request["InputConfig"]
    found: list[Candidate] = []
    configurations = config.get("EndpointConfigurations") or [
        {"InstanceType": name}
        for name in (config.get("ContainerConfig") or {}).get("SupportedInstanceTypes")
        or DEFAULT_INSTANCE_TYPES
    ]
    for configuration in configurations:
        ranges = (configuration.get("EnvironmentParameterRanges") or {}).get(
            "CategoricalParameterRanges"
        ) or []
        names = [item["Name"] for item in ranges]
        for values in itertools.product(*(item["Value"] for item in ranges)):
            found.append(
                Candidate(instance_type(configuration["InstanceType"]), dict(zip(names, values, strict=True)))
            )
    limit = (config.get("ResourceLimit") or {}).get("MaxNumberOfTests")
    return found[:limit] if limit else found


def percentile_asked(request: dict[str, Any]) -> tuple[str, float, float | None]:
    """("P95", 95.0, threshold in ms or None) from StoppingConditions.ModelLatencyThresholds."""
    thresholds = (request.get("StoppingConditions") or {}).get("ModelLatencyThresholds") or []
    name = thresholds[0]["Percentile"] if thresholds else DEFAULT_PERCENTILE
    threshold = float(thresholds[0]["ValueInMilliseconds"]) if thresholds else None
    return name.upper(), float(name.upper().removeprefix("P")), threshold


class RecommendationRunner:
    def __init__(self, storage: Storage) -> None:
        self.storage = storage
        self._slot = threading.Lock()  # one job measures at a time: they would disturb each other
        self._stops = LeasedStops(storage, RECOMMENDATION_JOBS.lease_kind)  # stops asked on any node reach it

    def submit(self, key: JobKey) -> None:
        self._stops.start(key)
        threading.Thread(target=self._run, args=(key,), name=f"recommendation-{key[2]}", daemon=True).start()

    def stop(self, key: JobKey) -> None:
        self._stops.stop(key)

    def _run(self, key: JobKey) -> None:
        folder = Path(tempfile.mkdtemp(prefix="recommendation-", dir=self.storage.data_dir))
        try:
            with self._slot:
                run_job(self.storage, key, folder, self._stops[key])
        except Stopped:
            RECOMMENDATION_JOBS.move(self.storage, key, "Stopped")
        except BenchmarkFailed as failure:
            _fail(self.storage, key, str(failure))
        except Exception as error:  # a bug in Nimbus must still end the job, never leave it running
            _fail(self.storage, key, f"InternalServerError: {error!r}")
        finally:
            self._stops.finish(key)
            shutil.rmtree(folder, ignore_errors=True)


def _fail(storage: Storage, key: JobKey, reason: str) -> None:
    if not RECOMMENDATION_JOBS.move(storage, key, "Failed", failure_reason=reason[:1024]):
        RECOMMENDATION_JOBS.move(storage, key, "Stopped")


def _save(storage: Storage, key: JobKey, **columns: Any) -> None:
    with storage.database.engine.begin() as connection:
        connection.execute(
            update(RECOMMENDATION_JOBS.table)
            .where(*RECOMMENDATION_JOBS.where(key))
            .values(last_modified=datetime.now(UTC), **columns)
        )


def _payloads(storage: Storage, uri: str, folder: Path, access: RoleAccess) -> list[str]:
    """The sample payloads: every file of the SamplePayloadUrl archive, base64, read as the job's role
    (as SageMaker reads them with the role's credentials)."""
    try:
        bucket, key = split_s3_uri(uri)
        denied = access.denial("s3:GetObject", f"arn:aws:s3:::{bucket}/{key}")
        if denied:
            raise BenchmarkFailed(f"Could not read the sample payloads at {uri}: {denied}")
        extract_archive(storage, uri, folder)
    except (ArchiveUnreadable, ValueError) as error:
        raise BenchmarkFailed(f"Could not read the sample payloads at {uri}: {error}") from None
    files = sorted(path for path in folder.rglob("*") if path.is_file())
    if not files:
        raise BenchmarkFailed(f"The sample payload archive {uri} holds no file.")
    return [base64.b64encode(path.read_bytes()).decode() for path in files]


def run_job(storage: Storage, key: JobKey, folder: Path, stop: threading.Event) -> None:
    job = RECOMMENDATION_JOBS.find(storage, key)
    assert job is not None
    request = job.request
    config = request["InputConfig"]
    container = config.get("ContainerConfig") or {}
    payload = container["PayloadConfig"]
    try:
        base = model_variant(storage, key[0], key[1], config["ModelName"], VARIANT, 1, 1.0, folder / "model")
    except WorkerFailed as error:
        raise BenchmarkFailed(str(error)) from None
    role, note = role_environment(storage, request["RoleArn"], SAGEMAKER, key[2], key[1])
    if "AWS_CONTAINER_CREDENTIALS_FULL_URI" not in role:
        raise BenchmarkFailed(f"Could not assume the job's role: {note}.")
    name, percentile, threshold = percentile_asked(request)
    stopping = request.get("StoppingConditions") or {}
    settings = LoadSettings(
        payloads=_payloads(
            storage,
            payload["SamplePayloadUrl"],
            folder / "payloads",
            RoleAccess(storage, request["RoleArn"], key[2]),
        ),
        content_type=(payload.get("SupportedContentTypes") or ["application/octet-stream"])[0],
        percentile=percentile,
        latency_threshold_ms=threshold,
        max_invocations=stopping.get("MaxInvocations"),
        stop_when_flat=stopping.get("FlatInvocations", "Stop") == "Stop",
        deadline=time.monotonic() + config.get("JobDurationInSeconds", DEFAULT_DURATION_S),
    )
    setup = {
        "url": served_at(),
        "region": key[1],
        "content_type": settings.content_type,
        "payloads": settings.payloads,
    }
    chosen = candidates(request)
    steps = [_step(key, candidate, "PENDING") for candidate in chosen]
    _save(storage, key, steps=steps)
    machine_cpus = devices.cpu_count()
    measured: dict[tuple[int, int, tuple[tuple[str, str], ...]], Measurement] = {}
    generator = LoadGenerator(role)
    plan = traffic_plan(config.get("TrafficPattern"), settings)
    figures_by_candidate: list[dict[str, Any]] = []
    try:
        for index, candidate in enumerate(chosen):
            if stop.is_set():
                raise Stopped()
            steps[index]["Status"] = "IN_PROGRESS"
            _save(storage, key, steps=steps)
            environment = tuple(sorted(candidate.environment.items()))
            points = []
            for cores, gpus in candidate.measurement_keys(machine_cpus):
                if (cores, gpus, environment) not in measured:
                    limits = Limits(cores, machine_limits(candidate.instance).memory_bytes, gpus)
                    spec = variant(base, limits, candidate.environment)
                    measured[(cores, gpus, environment)] = measure(
                        spec, key[:2], generator, setup, settings, plan, stop
                    )
                points.append(measured[(cores, gpus, environment)])
            figures = (
                report.measured_figures(candidate.instance, candidate.count, points, name)
                if points
                else report.gpu_unmeasurable(candidate.instance, candidate.count)
            )
            figures_by_candidate.append(figures)
            steps[index] = _finished_step(key, candidate, figures, points)
            _save(storage, key, steps=steps)
    finally:
        generator.close()
    recommendations, provenance = _recommendations(key, chosen, steps, figures_by_candidate, measured)
    _save(storage, key, steps=steps, recommendations=recommendations, report=provenance)
    if not recommendations:
        reasons = "; ".join(step["InferenceBenchmark"].get("FailureReason", "") for step in steps)
        raise BenchmarkFailed(f"No instance type could be benchmarked on this machine: {reasons}")
    if not RECOMMENDATION_JOBS.move(storage, key, "Completed"):  # stopped as it finished
        RECOMMENDATION_JOBS.move(storage, key, "Stopped")


def _endpoint_configuration(key: JobKey, candidate: Candidate) -> dict[str, Any]:
    return {
        "EndpointName": f"nimbus-ir-{key[2]}"[:63],
        "VariantName": VARIANT,
        "InstanceType": candidate.instance.name,
        "InitialInstanceCount": candidate.count,
    }


def _model_configuration(candidate: Candidate) -> dict[str, Any]:
    parameters = [
        {"Key": k, "ValueType": "String", "Value": v} for k, v in sorted(candidate.environment.items())
    ]
    return {"EnvironmentParameters": parameters} if parameters else {}


def _step(key: JobKey, candidate: Candidate, status: str) -> dict[str, Any]:
    return {
        "StepType": "BENCHMARK",
        "JobName": key[2],
        "Status": status,
        "InferenceBenchmark": {
            "EndpointConfiguration": _endpoint_configuration(key, candidate),
            "ModelConfiguration": _model_configuration(candidate),
        },
    }


def _finished_step(
    key: JobKey, candidate: Candidate, figures: dict[str, Any], points: list[Measurement]
) -> dict[str, Any]:
    step = _step(key, candidate, "COMPLETED")
    benchmark = step["InferenceBenchmark"]
    if not points:
        step["Status"] = "FAILED"
        benchmark["FailureReason"] = f"Not measurable on this machine: {figures['MaxInvocations']['basis']}."
        return step
    benchmark["Metrics"] = report.aws_metrics(figures)
    largest = max(points, key=lambda point: point.cores)
    benchmark["EndpointMetrics"] = {
        "MaxInvocations": benchmark["Metrics"].get("MaxInvocations", 0),
        "ModelLatency": benchmark["Metrics"].get("ModelLatency", 0),
    }
    benchmark["InvocationStartTime"] = min(point.started for point in points)  # epoch seconds
    benchmark["InvocationEndTime"] = max(point.ended for point in points)
    rss = (largest.best or {}).get("rss_bytes", 0)
    if rss > candidate.instance.memory_gib * GIB:
        step["Status"] = "FAILED"
        benchmark["FailureReason"] = (
            f"The model server used {rss / GIB:.2f} GiB, more than the {candidate.instance.memory_gib:g} GiB "
            f"of {candidate.instance.name}."
        )
    return step


def _recommendations(
    key: JobKey,
    chosen: list[Candidate],
    steps: list[dict[str, Any]],
    figures: list[dict[str, Any]],
    measured: dict[tuple[int, int, tuple[tuple[str, str], ...]], Measurement],
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """InferenceRecommendations (completed steps, cheapest per inference first) and the report."""
    order = sorted(range(len(chosen)), key=lambda index: report.ranking_key(figures[index]))
    recommendations = []
    for index in order:
        step = steps[index]
        if step["Status"] != "COMPLETED":
            continue
        benchmark = step["InferenceBenchmark"]
        recommendations.append(
            {
                "RecommendationId": f"{key[2]}/{uuid.uuid4().hex[:8]}",
                "Metrics": benchmark["Metrics"],
                "EndpointConfiguration": benchmark["EndpointConfiguration"],
                "ModelConfiguration": benchmark["ModelConfiguration"],
                "InvocationStartTime": benchmark["InvocationStartTime"],
                "InvocationEndTime": benchmark["InvocationEndTime"],
            }
        )
    provenance = {
        "machine": {
            "cpus": devices.cpu_count(),
            "memory_gib": round(devices.memory_bytes() / GIB, 1),
            "gpus": list(devices.gpu_names()),
        },
        "candidates": [
            {
                "InstanceType": chosen[index].instance.name,
                "Environment": chosen[index].environment,
                "Status": steps[index]["Status"],
                "Rank": order.index(index) + 1,
                "Figures": figures[index],
            }
            for index in range(len(chosen))
        ],
        "measurements": [
            {
                "cores": point.cores,
                "gpus": point.gpus,
                "environment": point.environment,
                "idle_latency_ms": point.idle_latency_ms,
                "setup_us": point.setup_us,
                "steps": point.steps,
            }
            for point in measured.values()
        ],
    }
    return recommendations, provenance


recommendation_runner: RunnerPerStorage[RecommendationRunner] = RunnerPerStorage(
    RecommendationRunner, RECOMMENDATION_JOBS.fail_interrupted, leased=True
)
"""This process's RecommendationRunner for a storage, made on first use after interrupted jobs failed."""
