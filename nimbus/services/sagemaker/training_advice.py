"""Training advice: which instance type trains a job cheapest and which fastest, from a short probe
measured here and projected to the full job.

The probe runs the job's own algorithm in its sandbox on two fractions of its data (the first rows of
each CSV channel) for a few rounds, at 1, 2, 4... cores up to this machine's (and on its GPU when it
has one). Two sizes separate what does not grow with the data (start, loading the library) from what
does: time = a + b x rows x rounds. The full job's time at a type's vCPUs is that line at its rows
and rounds; a type with more vCPUs than this machine gets b projected from the measured cores
(scaling.py), and a GPU type on a machine without a GPU is not measurable. Cost = time x the type's
published price. Built-in XGBoost jobs (``num_round``) are probed; other algorithms are refused.
"""

from __future__ import annotations

import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

from nimbus.engines import devices
from nimbus.engines.learn.sandbox import Limits, prepare_job_folder, start_sandboxed
from nimbus.services.instance_catalog import instance_type, machine_limits
from nimbus.services.registry import Caller
from nimbus.services.sagemaker.errors import validation_error
from nimbus.services.sagemaker.images import training_runtime
from nimbus.services.sagemaker.jobs import config_files
from nimbus.services.sagemaker.recommendations.report import NOT_MEASURABLE, PROJECTED, PUBLISHED, figure
from nimbus.services.sagemaker.recommendations.runner import scaling_points
from nimbus.services.sagemaker.recommendations.scaling import project
from nimbus.services.sagemaker.s3_locations import JobFailure, channel_files
from nimbus.services.sagemaker.training_jobs import check_training_request
from nimbus.storage import Storage

MEASURED = "measured"
DEFAULT_TYPES = (
    "ml.m5.large",
    "ml.m5.xlarge",
    "ml.c5.2xlarge",
    "ml.c5.4xlarge",
    "ml.g4dn.xlarge",
    "ml.p3.2xlarge",
)
PROBE_ROUNDS = 10
PROBE_FRACTION = (
    16  # the small probe has 1/16 of the rows (at least MIN_PROBE_ROWS), the large one twice that
)
MIN_PROBE_ROWS = 200
PROBE_TIMEOUT_S = 300.0


def training_advice(
    storage: Storage, caller: Caller, region: str, job: dict[str, Any], instance_types: list[str]
) -> dict[str, Any]:
    check_training_request(job)
    hyperparameters = job.get("HyperParameters") or {}
    runtime = training_runtime(job["AlgorithmSpecification"], hyperparameters)
    if runtime.name != "xgboost" or "num_round" not in hyperparameters:
        raise validation_error(
            "Nimbus probes built-in XGBoost jobs with num_round for training advice, "
            f"not {runtime.name} jobs."
        )
    rounds = int(hyperparameters["num_round"])
    try:
        channels = {
            c["ChannelName"]: channel_files(storage, c["DataSource"]["S3DataSource"]["S3Uri"])
            for c in job.get("InputDataConfig") or []
        }
    except JobFailure as failure:
        raise validation_error(str(failure)) from None
    rows = sum(_count_rows(path) for path in channels.get("train", {}))
    if rows < 2:
        raise validation_error("The train channel needs at least two rows of CSV to probe.")
    small = min(rows // 2, max(MIN_PROBE_ROWS, rows // PROBE_FRACTION))
    sizes = (small, min(rows, 2 * small))
    probe_rounds = min(rounds, PROBE_ROUNDS)
    folder = Path(tempfile.mkdtemp(prefix="advice-", dir=storage.data_dir))
    try:
        points = _probe(job, runtime.command, channels, rows, sizes, probe_rounds, folder)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    candidates = [_candidate(name, points, rows, rounds) for name in instance_types or DEFAULT_TYPES]
    timed = [c for c in candidates if c["TrainingSeconds"]["value"] is not None]
    costed = [c for c in timed if c["Cost"]["value"] is not None]
    return {
        "Machine": {"cpus": devices.cpu_count(), "gpus": list(devices.gpu_names())},
        "Probe": {
            "rows": rows,
            "rounds": rounds,
            "probe_rows": list(sizes),
            "probe_rounds": probe_rounds,
            "points": points,
        },
        "Candidates": candidates,
        "Fastest": min(timed, key=lambda c: c["TrainingSeconds"]["value"])["InstanceType"] if timed else None,
        "Cheapest": min(costed, key=lambda c: c["Cost"]["value"])["InstanceType"] if costed else None,
    }


def _count_rows(path: Path) -> int:
    with path.open("rb") as lines:
        return sum(1 for line in lines if line.strip())


def _probe(
    job: dict[str, Any],
    command: tuple[str, ...],
    channels: dict[str, dict[Path, str]],
    rows: int,
    sizes: tuple[int, int],
    rounds: int,
    folder: Path,
) -> list[dict[str, Any]]:
    """(cores, GPUs, a, b) measured at each core count (and on the GPU): time = a + b x rows x rounds."""
    keys = [(cores, 0) for cores in scaling_points(devices.cpu_count())]
    keys += [(devices.cpu_count(), len(devices.gpu_names()))] if devices.gpu_names() else []
    points = []
    for cores, gpus in keys:
        seconds = [
            _run(job, command, channels, rows, size, rounds, Limits(cores, _memory(), gpus), folder)
            for size in sizes
        ]
        per_row_round = max(0.0, (seconds[1] - seconds[0]) / max(1, (sizes[1] - sizes[0]) * rounds))
        fixed = max(0.0, seconds[0] - per_row_round * sizes[0] * rounds)
        points.append(
            {
                "cores": cores,
                "gpus": gpus,
                "seconds": seconds,
                "fixed_s": fixed,
                "per_row_round_s": per_row_round,
            }
        )
    return points


def _memory() -> int:
    return machine_limits(instance_type("")).memory_bytes


def _run(
    job: dict[str, Any],
    command: tuple[str, ...],
    channels: dict[str, dict[Path, str]],
    rows: int,
    size: int,
    rounds: int,
    limits: Limits,
    folder: Path,
) -> float:
    """Seconds the job's algorithm takes on ``size`` of its ``rows`` for ``rounds`` rounds."""
    data = folder / "data" / str(size)
    probe_channels = {name: _head(files, size / rows, data / name) for name, files in channels.items()}
    request = {**job, "HyperParameters": {**(job.get("HyperParameters") or {}), "num_round": str(rounds)}}
    request.get("HyperParameters", {}).pop("early_stopping_rounds", None)
    root = prepare_job_folder(folder / "job", config_files(request), probe_channels)
    started = time.monotonic()
    process = start_sandboxed(command, root.root, root.binds(), limits)
    output, _ = process.communicate(timeout=PROBE_TIMEOUT_S)
    elapsed = time.monotonic() - started
    if process.returncode != 0:
        failure = root.output_dir / "failure"
        reason = failure.read_text() if failure.exists() else output.decode(errors="replace")[-600:]
        raise validation_error(f"The probe of the job failed: {reason.strip()}")
    return elapsed


def _head(files: dict[Path, str], fraction: float, target: Path) -> dict[Path, str]:
    """The first ``fraction`` of each file's lines, written under ``target``."""
    written = {}
    for source, relative in files.items():
        lines = source.read_bytes().splitlines(keepends=True)
        keep = max(1, round(len(lines) * fraction))
        path = target / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"".join(lines[:keep]))
        written[path] = relative
    return written


def _candidate(name: str, points: list[dict[str, Any]], rows: int, rounds: int) -> dict[str, Any]:
    instance = instance_type(name)
    work = rows * rounds
    cpu_points = [point for point in points if not point["gpus"]]
    largest = max(cpu_points, key=lambda point: point["cores"])
    if instance.has_gpu:
        gpu_points = [point for point in points if point["gpus"]]
        if not gpu_points:
            why = f"{name} runs on {instance.gpu_description}; this machine has no GPU"
            return _priced(name, figure(None, NOT_MEASURABLE, why), instance.price_per_hour, instance.sources)
        point = gpu_points[0]
        seconds = point["fixed_s"] + point["per_row_round_s"] * work
        basis = f"probe on {', '.join(devices.gpu_names())} (the type has {instance.gpu_description})"
        return _priced(name, figure(seconds, MEASURED, basis), instance.price_per_hour, instance.sources)
    own = [point for point in cpu_points if point["cores"] == instance.vcpus]
    if own:
        point = own[0]
        seconds = point["fixed_s"] + point["per_row_round_s"] * work
        basis = (
            f"a + b x {rows} rows x {rounds} rounds with a = {point['fixed_s']:.2f} s, "
            f"b = {point['per_row_round_s']:.3g} s measured at {point['cores']} cores"
        )
        return _priced(name, figure(seconds, MEASURED, basis), instance.price_per_hour, instance.sources)
    rates = [
        (point["cores"], 1 / point["per_row_round_s"]) for point in cpu_points if point["per_row_round_s"] > 0
    ]
    if not rates:
        basis = (
            f"the probe's time did not grow with its data: {largest['fixed_s']:.2f} s of start-up dominates"
        )
        return _priced(
            name, figure(largest["fixed_s"], PROJECTED, basis), instance.price_per_hour, instance.sources
        )
    projection = project(rates, instance.vcpus)
    seconds = largest["fixed_s"] + work / projection.value
    basis = f"a + {rows} rows x {rounds} rounds / throughput; throughput (row-rounds/s) {projection.basis}"
    span = [largest["fixed_s"] + work / projection.high, largest["fixed_s"] + work / projection.low]
    return _priced(
        name, figure(seconds, PROJECTED, basis, range=span), instance.price_per_hour, instance.sources
    )


def _priced(
    name: str, seconds: dict[str, Any], price: float | None, sources: dict[str, str]
) -> dict[str, Any]:
    if seconds["value"] is None or price is None:
        why = "no published price in the instance table" if price is None else "no training time"
        cost = figure(None, NOT_MEASURABLE, why)
    else:
        cost = figure(
            seconds["value"] / 3600 * price,
            seconds["kind"],
            f"{seconds['value']:.0f} s x {price} USD/hour ({PUBLISHED}: {sources.get('price')})",
        )
        if "range" in seconds:
            cost["range"] = [value / 3600 * price for value in seconds["range"]]
    return {"InstanceType": name, "TrainingSeconds": seconds, "Cost": cost, "PricePerHour": price}
