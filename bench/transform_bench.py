"""SageMaker batch transform throughput: a 1,000,000-row CSV scored by an XGBoost model through a
transform job (MultiRecord, 1 and 2 instances), beside the model's in-process predict over the same
bytes (the limit: the container's own CSV parser, then ``Booster.predict``) and a plain per-record
loop (one ``predict`` per row; capped at --loop-rows rows and extrapolated).

The rows are split into --objects objects under one prefix, so instances have objects to share
(AWS spreads objects, not records, over instances). A job's time is from CreateTransformJob to
Completed, worker start included; "steady" excludes the worker start (from the job's first data-log
line to TransformEndTime). Every job's output is checked against the in-process predictions. On a
shared machine the load changes between phases, so the in-process limit is measured again right
before each job, and each job is compared with the measure taken just before it.

With --spark (the default) the same job runs once more as a Spark job: a second Nimbus with
NIMBUS_SPARK_MASTER set to a Spark standalone cluster on this machine (one worker with every core).

    bench/run.sh transform [--rows 1000000] [--features 20] [--objects 4] [--concurrency 2] [--no-spark]
"""

from __future__ import annotations

import argparse
import io
import os
import sys
import tarfile
import tempfile
import time
import uuid
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import xgboost

sys.path.insert(0, str(Path(__file__).resolve().parent))
from s3_bench import Server, start_nimbus

from nimbus.engines.learn.xgboost_server import XGBoostModel
from nimbus.engines.spark.cluster import WorkerResources, start_master, start_worker
from nimbus.engines.spark.processes import stop_process_group

sys.path.append(str(Path(__file__).resolve().parent.parent / "tests" / "e2e"))  # roles.py, as the tests
from roles import execution_role

XGBOOST_IMAGE = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost:1.7-1"
LOG_GROUP = "/aws/sagemaker/TransformJobs"


def make_data(rows: int, features: int, objects: int, work: Path) -> tuple[list[Path], Path, xgboost.Booster]:
    """The CSV parts (no label column, as a transform reads them) and a model trained on other rows."""
    rng = np.random.default_rng(7)
    weights = rng.normal(size=features)
    train = rng.normal(size=(20_000, features)).astype(np.float32)
    booster = xgboost.train(
        {"objective": "binary:logistic", "max_depth": 6},
        xgboost.DMatrix(train, label=(train @ weights > 0).astype(np.float32)),
        num_boost_round=100,
    )
    model_dir = work / "model"
    model_dir.mkdir()
    booster.save_model(str(model_dir / "xgboost-model"))
    archive = work / "model.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(model_dir / "xgboost-model", arcname="xgboost-model")
    data = rng.normal(size=(rows, features)).astype(np.float32)
    parts = []
    for index, chunk in enumerate(np.array_split(data, objects)):
        path = work / f"part-{index:02d}.csv"
        pd.DataFrame(chunk).to_csv(path, header=False, index=False, float_format="%.6g")
        parts.append(path)
    return parts, archive, booster


def in_process(parts: list[Path], model_dir: Path) -> tuple[float, float, list[np.ndarray]]:
    """Seconds of the container's predict (its CSV parser, then the booster) over every part,
    seconds of the booster alone over the same rows, and the predictions."""
    model = XGBoostModel(model_dir)
    bodies = [part.read_bytes() for part in parts]
    started = time.perf_counter()
    predictions = [model.predict(body, "text/csv") for body in bodies]
    limit_s = time.perf_counter() - started
    rows = [np.loadtxt(io.BytesIO(body), delimiter=",", dtype=np.float32, ndmin=2) for body in bodies]
    started = time.perf_counter()
    for chunk in rows:
        model.booster.predict(xgboost.DMatrix(chunk))
    return limit_s, time.perf_counter() - started, predictions


def per_record(parts: list[Path], model_dir: Path, limit: int) -> float:
    """Records per second of one predict call per row, over the first ``limit`` rows."""
    model = XGBoostModel(model_dir)
    rows = np.loadtxt(parts[0], delimiter=",", dtype=np.float32, ndmin=2, max_rows=limit)
    started = time.perf_counter()
    for row in rows:
        model.predict(",".join(repr(float(value)) for value in row).encode(), "text/csv")
    return len(rows) / (time.perf_counter() - started)


def prepare(server: Server, parts: list[Path], archive: Path) -> str:
    """A bucket with the input objects and the model, and the SageMaker model "bench-xgb"; its name."""
    s3, sagemaker = server.client("s3"), server.client("sagemaker")
    bucket = f"bench-{uuid.uuid4().hex[:8]}"
    s3.create_bucket(Bucket=bucket)
    s3.upload_file(str(archive), bucket, "model/model.tar.gz")
    for part in parts:
        s3.upload_file(str(part), bucket, f"input/{part.name}")
    sagemaker.create_model(
        ModelName="bench-xgb",
        PrimaryContainer={"Image": XGBOOST_IMAGE, "ModelDataUrl": f"s3://{bucket}/model/model.tar.gz"},
        ExecutionRoleArn=execution_role(sagemaker),
    )
    return bucket


def spark_job(
    work: Path, parts: list[Path], archive: Path, expected: list[np.ndarray], concurrency: int
) -> dict[str, Any]:
    """The same job run as a Spark job: a Nimbus with NIMBUS_SPARK_MASTER set to a standalone cluster
    on this machine (a master and one worker with every core)."""
    master, master_url, _ = start_master(work / "spark-master")
    try:
        resources = WorkerResources(cores=os.cpu_count() or 1, memory_mb=4096)
        worker = start_worker(master_url, resources, work / "spark-worker")
        try:
            (work / "spark-nimbus").mkdir()
            server = start_nimbus(work / "spark-nimbus", {"NIMBUS_SPARK_MASTER": master_url})
            try:
                bucket = prepare(server, parts, archive)
                job = run_job(server, bucket, "bench-xgb", 1, concurrency)
                check_outputs(server, bucket, job["name"], parts, expected)
                return job
            finally:
                server.stop()
        finally:
            stop_process_group(worker)
    finally:
        stop_process_group(master)


def run_job(server: Server, bucket: str, model: str, instances: int, concurrency: int) -> dict[str, Any]:
    sagemaker = server.client("sagemaker")
    name = f"bench-{instances}-{uuid.uuid4().hex[:6]}"
    started = time.perf_counter()
    sagemaker.create_transform_job(
        TransformJobName=name,
        ModelName=model,
        BatchStrategy="MultiRecord",
        MaxConcurrentTransforms=concurrency,
        TransformInput={
            "DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": f"s3://{bucket}/input/"}},
            "ContentType": "text/csv",
            "SplitType": "Line",
        },
        TransformOutput={"S3OutputPath": f"s3://{bucket}/output-{name}", "AssembleWith": "Line"},
        TransformResources={"InstanceType": "ml.m5.xlarge", "InstanceCount": instances},
    )
    while True:
        described = sagemaker.describe_transform_job(TransformJobName=name)
        if described["TransformJobStatus"] in ("Completed", "Failed", "Stopped"):
            break
        time.sleep(0.05)
    wall = time.perf_counter() - started
    if described["TransformJobStatus"] != "Completed":
        raise SystemExit(f"job {name}: {described['TransformJobStatus']} {described.get('FailureReason')}")
    return {
        "name": name,
        "wall": wall,
        "steady": _steady_seconds(server, name, described["TransformEndTime"]),
    }


def _steady_seconds(server: Server, name: str, ended: datetime) -> float:
    """From the first data-log line (the workers answer /ping, requests start) to the job's end."""
    logs = server.client("logs")
    streams = logs.describe_log_streams(logGroupName=LOG_GROUP, logStreamNamePrefix=f"{name}/")["logStreams"]
    first = min(
        event["timestamp"]
        for stream in streams
        if stream["logStreamName"].endswith("/data-log")
        for event in logs.get_log_events(logGroupName=LOG_GROUP, logStreamName=stream["logStreamName"])[
            "events"
        ]
    )
    return ended.timestamp() - first / 1000


def check_outputs(
    server: Server, bucket: str, name: str, parts: list[Path], expected: list[np.ndarray]
) -> None:
    s3 = server.client("s3")
    for part, predictions in zip(parts, expected, strict=True):
        body = s3.get_object(Bucket=bucket, Key=f"output-{name}/{part.name}.out")["Body"].read()
        got = np.array(body.decode().split(), dtype=np.float64)
        np.testing.assert_allclose(got, predictions, atol=1e-6)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--features", type=int, default=20)
    parser.add_argument("--objects", type=int, default=4)
    parser.add_argument("--concurrency", type=int, default=2, help="MaxConcurrentTransforms")
    parser.add_argument("--loop-rows", type=int, default=5_000)
    parser.add_argument("--spark", action=argparse.BooleanOptionalAction, default=True, help="also on Spark")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="transform-bench-") as folder:
        work = Path(folder)
        parts, archive, _ = make_data(args.rows, args.features, args.objects, work)
        size_mb = sum(part.stat().st_size for part in parts) / 1e6
        limits: dict[int, float] = {}
        limits[1], predict_s, expected = in_process(parts, work / "model")
        loop_rate = per_record(parts, work / "model", args.loop_rows)
        server = start_nimbus(work)
        try:
            bucket = prepare(server, parts, archive)
            jobs = {}
            for count in (1, 2):
                limits[count] = limits.get(count) or in_process(parts, work / "model")[0]
                jobs[count] = run_job(server, bucket, "bench-xgb", count, args.concurrency)
            for job in jobs.values():
                check_outputs(server, bucket, job["name"], parts, expected)
        finally:
            server.stop()
        if args.spark:
            limits[0] = in_process(parts, work / "model")[0]
            spark = spark_job(work, parts, archive, expected, args.concurrency)
    rows = args.rows
    print(
        f"{rows:,} rows x {args.features} features, {size_mb:.0f} MB of CSV in {args.objects} objects; "
        f"XGBoost 100 trees, depth 6; MultiRecord, MaxPayloadInMB 6, MaxConcurrentTransforms "
        f"{args.concurrency}; {os.cpu_count()} CPUs\n"
    )
    print("| path | seconds | records/s | vs in-process |")
    print("|---|---:|---:|---:|")
    for count, limit_s in limits.items():
        before = f"{count}-instance job" if count else "Spark job"
        print(
            f"| in-process: the container's predict (CSV parser + booster), the limit, before the "
            f"{before} | {limit_s:.2f} | {rows / limit_s:,.0f} | 100% |"
        )
    print(f"| (Booster.predict alone) | {predict_s:.2f} | {rows / predict_s:,.0f} | |")
    print(
        f"| per-record loop ({args.loop_rows:,} rows timed, extrapolated) | {rows / loop_rate:.0f} | "
        f"{loop_rate:,.0f} | {loop_rate * limits[1] / rows:.1%} |"
    )
    for count, job in jobs.items():
        for what, seconds in (
            ("job, worker start included", job["wall"]),
            ("steady, after worker start", job["steady"]),
        ):
            print(
                f"| batch transform, {count} instance{'s' if count > 1 else ''}, {what} | {seconds:.2f} | "
                f"{rows / seconds:,.0f} | {limits[count] / seconds:.0%} |"
            )

    if args.spark:  # its data log starts before spark-submit does: only the whole job is timed
        seconds = spark["wall"]
        print(
            f"| batch transform on Spark (1 worker, {os.cpu_count()} cores), job, driver and executor "
            f"start included | {seconds:.2f} | {rows / seconds:,.0f} | {limits[0] / seconds:.0%} |"
        )


if __name__ == "__main__":
    main()
