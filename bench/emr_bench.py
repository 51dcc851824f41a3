"""EMR: time from RunJobFlow to WAITING (1 and 2 core instances), step overhead (AddJobFlowSteps to
the driver's first line, and to COMPLETED for a step that does nothing), and an MLlib
LogisticRegression over a generated CSV in Nimbus S3 on 1 and 2 workers and in local mode
(``spark-submit --master local[2]`` outside Nimbus, reading the same object file), each with its peak
memory: the summed RSS of every process of the run (master, workers, executors, Python workers,
driver), sampled every 0.5 s. The rows are spread over as many cached partitions as the run has
cores, so fit() times the training alone.

    bench/run.sh emr [--rows 300000] [--features 10] [--iterations 20]
"""

from __future__ import annotations

import argparse
import gzip
import os
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
from s3_bench import start_nimbus

from nimbus.engines.spark.runtime import spark_home, spark_version

TIMEOUT_S = 900
GIB = 1 << 30

SCRIPT = """
import sys, time
print("driver-start", time.time(), flush=True)
from pyspark.ml.classification import LogisticRegression
from pyspark.ml.feature import VectorAssembler
from pyspark.sql import SparkSession
from pyspark.sql.types import DoubleType, StructField, StructType

spark = SparkSession.builder.appName("bench").getOrCreate()
if sys.argv[1] == "noop":
    spark.stop()
    sys.exit(0)
source, features, iterations = sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
names = [f"x{i}" for i in range(features)]
schema = StructType([StructField(name, DoubleType()) for name in names + ["label"]])
frame = spark.read.csv(source, schema=schema).repartition(spark.sparkContext.defaultParallelism)
data = VectorAssembler(inputCols=names, outputCol="features").transform(frame).cache()
data.count()  # read and parse before the fit is timed
started = time.time()
model = LogisticRegression(maxIter=iterations).fit(data)
print("fit-seconds", time.time() - started, "accuracy", model.summary.accuracy, flush=True)
spark.stop()
"""


def make_data(rows: int, features: int, path: Path) -> None:
    rng = np.random.default_rng(7)
    data = rng.normal(size=(rows, features))
    labels = (data @ rng.normal(size=features) + rng.normal(scale=0.5, size=rows) > 0).astype(float)
    frame = pd.DataFrame(np.column_stack([data, labels]))
    frame.to_csv(path, header=False, index=False, float_format="%.6g")


class PeakMemory:
    """Samples the summed RSS of the processes ``select`` names until stopped."""

    def __init__(self, select: Callable[[], set[int]]) -> None:
        self.select = select
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def __enter__(self) -> PeakMemory:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()

    def _sample(self) -> None:
        while not self._stop.wait(0.5):
            self.peak = max(self.peak, sum(_rss(pid) for pid in self.select()))


def _rss(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def _pids(predicate: Callable[[Path], bool]) -> set[int]:
    found = set()
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if predicate(entry):
                    found.add(int(entry.name))
            except OSError:
                continue
    return found


def cluster_pids(data_dir: Path, cluster_id: str) -> set[int]:
    folder = str(data_dir / "emr" / cluster_id)
    return _pids(lambda entry: os.readlink(entry / "cwd").startswith(folder))


def group_pids(pgid: int) -> set[int]:
    return _pids(lambda entry: int((entry / "stat").read_text().rsplit(") ", 1)[1].split()[2]) == pgid)


def wait_for(what: str, probe: Callable[[], Any]) -> Any:
    deadline = time.monotonic() + TIMEOUT_S
    while time.monotonic() < deadline:
        value = probe()
        if value:
            return value
        time.sleep(0.2)
    raise TimeoutError(what)


def start_cluster(emr: Any, bucket: str, workers: int) -> tuple[str, float]:
    started = time.perf_counter()
    cluster_id = emr.run_job_flow(
        Name=f"bench-{workers}",
        ReleaseLabel="emr-7.2.0",
        Applications=[{"Name": "Spark"}],
        LogUri=f"s3://{bucket}/logs/",
        Configurations=[{"Classification": "spark-defaults", "Properties": {"spark.executor.memory": "2g"}}],
        Instances={
            "InstanceGroups": [
                {"InstanceRole": "MASTER", "InstanceType": "m5.xlarge", "InstanceCount": 1},
                {"InstanceRole": "CORE", "InstanceType": "m5.xlarge", "InstanceCount": workers},
            ],
            "KeepJobFlowAliveWhenNoSteps": True,
        },
    )["JobFlowId"]
    state = wait_for("WAITING", lambda: _state(emr, cluster_id) in ("WAITING", "TERMINATED_WITH_ERRORS"))
    assert _state(emr, cluster_id) == "WAITING", state
    return cluster_id, time.perf_counter() - started


def _state(emr: Any, cluster_id: str) -> str:
    return str(emr.describe_cluster(ClusterId=cluster_id)["Cluster"]["Status"]["State"])


def run_step(
    emr: Any, s3: Any, bucket: str, cluster_id: str, arguments: list[str]
) -> tuple[float, float, str]:
    """Adds a spark-submit step and waits for it; returns the seconds from AddJobFlowSteps to the
    driver's first line and to COMPLETED, and the step's stdout."""
    added = time.time()
    step_id = emr.add_job_flow_steps(
        JobFlowId=cluster_id,
        Steps=[
            {
                "Name": arguments[0],
                "ActionOnFailure": "CONTINUE",
                "HadoopJarStep": {
                    "Jar": "command-runner.jar",
                    "Args": ["spark-submit", f"s3://{bucket}/bench.py", *arguments],
                },
            }
        ],
    )["StepIds"][0]

    def ended() -> str | None:
        state = emr.describe_step(ClusterId=cluster_id, StepId=step_id)["Step"]["Status"]["State"]
        return state if state in ("COMPLETED", "FAILED", "CANCELLED") else None

    state = wait_for("the step", ended)
    total = time.time() - added
    assert state == "COMPLETED", state
    key = f"logs/{cluster_id}/steps/{step_id}/stdout.gz"
    stdout = gzip.decompress(s3.get_object(Bucket=bucket, Key=key)["Body"].read()).decode()
    return _value(stdout, "driver-start") - added, total, stdout


def _value(stdout: str, name: str) -> float:
    for line in stdout.splitlines():
        words = line.split()
        if words and words[0] == name:
            return float(words[1])
    raise ValueError(f"{name} not in the step's output")


def terminate(emr: Any, cluster_id: str) -> None:
    emr.terminate_job_flows(JobFlowIds=[cluster_id])
    wait_for("TERMINATED", lambda: _state(emr, cluster_id).startswith("TERMINATED"))


def local_mode(
    script: Path, data: Path, features: int, iterations: int, work: Path
) -> tuple[float, str, int]:
    environment = {
        "PATH": os.environ["PATH"],
        "HOME": str(work),
        "SPARK_HOME": str(spark_home()),
        "SPARK_LOCAL_IP": "127.0.0.1",
        "PYSPARK_PYTHON": sys.executable,
        "PYSPARK_DRIVER_PYTHON": sys.executable,
    }
    command = [
        str(spark_home() / "bin" / "spark-submit"),
        "--master",
        "local[2]",
        "--driver-memory",
        "2g",
        "--conf",
        "spark.ui.enabled=false",
        str(script),
        "train",
        str(data),
        str(features),
        str(iterations),
    ]
    started = time.perf_counter()
    process = subprocess.Popen(
        command,
        env=environment,
        cwd=work,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    with PeakMemory(lambda: group_pids(process.pid)) as memory:
        stdout, _ = process.communicate(timeout=TIMEOUT_S)
    assert process.returncode == 0
    return time.perf_counter() - started, stdout.decode(), memory.peak


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=300_000)
    parser.add_argument("--features", type=int, default=10)
    parser.add_argument("--iterations", type=int, default=20)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="emr-bench-") as folder:
        work = Path(folder)
        data = work / "train.csv"
        make_data(args.rows, args.features, data)
        script = work / "bench.py"
        script.write_text(SCRIPT)
        server = start_nimbus(work)
        data_dir = work / "nimbus-data"
        try:
            emr, s3 = server.client("emr"), server.client("s3")
            bucket = "emr-bench"
            s3.create_bucket(Bucket=bucket)
            s3.upload_file(str(data), bucket, "data/train.csv")
            s3.upload_file(str(script), bucket, "bench.py")
            train = ["train", f"s3a://{bucket}/data/train.csv", str(args.features), str(args.iterations)]
            rows = []
            overhead = None
            for workers in (1, 2):
                cluster_id, ready_s = start_cluster(emr, bucket, workers)
                if overhead is None:
                    driver_s, noop_s, _ = run_step(emr, s3, bucket, cluster_id, ["noop"])
                    overhead = (driver_s, noop_s)
                with PeakMemory(lambda cluster_id=cluster_id: cluster_pids(data_dir, cluster_id)) as memory:
                    _, step_s, stdout = run_step(emr, s3, bucket, cluster_id, train)
                terminate(emr, cluster_id)
                fit_s = _value(stdout, "fit-seconds")
                rows.append((f"EMR cluster, {workers} core", ready_s, step_s, fit_s, memory.peak, stdout))
            local_s, stdout, peak = local_mode(script, data, args.features, args.iterations, work)
            rows.append(
                (
                    "local mode, local[2], no Nimbus",
                    None,
                    local_s,
                    _value(stdout, "fit-seconds"),
                    peak,
                    stdout,
                )
            )
        finally:
            server.stop()
    load = os.getloadavg()[0]
    size_mib = args.rows * (args.features + 1) * 10 / (1 << 20)
    print(
        f"Spark {spark_version()}; {args.rows:,} rows x {args.features} features (~{size_mib:.0f} MiB CSV), "
        f"LogisticRegression maxIter={args.iterations}; load average at the end {load:.1f}.\n"
    )
    assert overhead is not None
    print(f"Step overhead (empty step, 1-worker cluster): AddJobFlowSteps to the driver's first line "
          f"{overhead[0]:.1f} s, to COMPLETED {overhead[1]:.1f} s.\n")  # fmt: skip
    print(
        "| run | RunJobFlow to WAITING s | step (add to COMPLETED) s | fit() s | peak memory GiB | accuracy |"
    )
    print("| --- | ---: | ---: | ---: | ---: | ---: |")
    for name, ready_s, step_s, fit_s, peak, stdout in rows:
        ready = f"{ready_s:.1f}" if ready_s is not None else "-"
        accuracy = float(stdout.split("accuracy", 1)[1].split()[0])
        print(f"| {name} | {ready} | {step_s:.1f} | {fit_s:.1f} | {peak / GIB:.2f} | {accuracy:.3f} |")


if __name__ == "__main__":
    main()
