"""SageMaker benchmark: endpoints and training through Nimbus, beside the model in-process and MLflow.

Inference: the same XGBoost booster (built-in algorithm artifact) and the same scikit-learn pipeline
(script mode: model.joblib plus an inference.py with model_fn) answer the same CSV rows, side by side:

- in-process: CSV parsing plus booster.predict(DMatrix) / pipeline.predict, no HTTP (the limit);
- Nimbus through boto3's sagemaker-runtime invoke_endpoint (what users run), one client per thread;
- Nimbus through a plain HTTP client that signs with SigV4 (botocore's signer, http.client keep-alive);
- `mlflow models serve --env-manager local` with its default workers, the same plain HTTP client
  (MLflow's CSV input needs a header line: the same rows, with one).

Training: a built-in XGBoost training job (CreateTrainingJob -> Completed) beside xgboost.train called
here on the same CSV file with the same hyperparameters.

The bench starts its own `nimbus serve` (temp data dir, free loopback port) and MLflow servers, and
stops them and every process under them at the end, also on failure. MLflow runs from the bench-only
venv bench/.venv-mlflow (bench/run.sh creates it from requirements/bench-mlflow.txt).

    bench/run.sh sagemaker [--requests 500] [--batch-rows 1] [--training-rows 100000] [--skip-training]
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import io
import json
import os
import platform
import signal
import statistics
import subprocess
import sys
import tarfile
import tempfile
import threading
import time
import uuid
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

import joblib
import numpy as np
import requests
import xgboost
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from botocore.exceptions import ClientError
from s3_bench import Server, free_port, percentile, start_nimbus, wait_until
from sklearn.datasets import load_breast_cancer, make_classification
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import StandardScaler

sys.path.append(str(Path(__file__).resolve().parent.parent / "tests" / "e2e"))  # roles.py, as the tests
from roles import execution_role

REPO_ROOT = Path(__file__).resolve().parent.parent
MLFLOW_PYTHON = REPO_ROOT / "bench" / ".venv-mlflow" / "bin" / "python"
XGBOOST_IMAGE = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost:1.7-1"
SKLEARN_IMAGE = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-scikit-learn:1.2-1-cpu-py3"
REGION = "us-east-1"
XGBOOST_PARAMS = {"objective": "binary:logistic", "max_depth": 4, "eta": 0.3}
XGBOOST_ROUNDS = 100
ENDPOINT_READY_S = 180.0
PHASE_LIMIT_S = 30.0  # every timed phase stops here even if its request count is not reached
TRAINING_LIMIT_S = 300.0
SMALL_TRAINING_ROWS = 1000
CONCURRENCIES = (1, 8)
TRAINING_HYPERPARAMETERS = {
    "objective": "binary:logistic",
    "num_round": "50",
    "max_depth": "6",
    "eta": "0.3",
    "eval_metric": "logloss",
}

INFERENCE_SCRIPT = """\
import os

import joblib


def model_fn(model_dir):
    return joblib.load(os.path.join(model_dir, "model.joblib"))
"""

# Runs inside bench/.venv-mlflow: logs the bench's booster and pipeline into a local MLflow store,
# with a signature inferred from the request frame (what MLflow's docs have users do), and prints
# the logged models' URIs as JSON.
MLFLOW_LOGGER = """
import json, sys, warnings
warnings.filterwarnings("ignore")
import joblib, mlflow, pandas, xgboost
from mlflow.models import infer_signature
store, booster_path, pipeline_path, sample_csv = sys.argv[1:]
mlflow.set_tracking_uri(store)
sample = pandas.read_csv(sample_csv)
booster = xgboost.Booster()
booster.load_model(booster_path)
pipeline = joblib.load(pipeline_path)
with mlflow.start_run():
    logged_booster = mlflow.xgboost.log_model(
        booster, name="xgboost", signature=infer_signature(sample, booster.predict(xgboost.DMatrix(sample)))
    )
    logged_pipeline = mlflow.sklearn.log_model(
        pipeline, name="sklearn", signature=infer_signature(sample, pipeline.predict(sample.to_numpy()))
    )
print(json.dumps({"xgboost": logged_booster.model_uri, "sklearn": logged_pipeline.model_uri}))
"""


# ---- models and request rows ----------------------------------------------------------------------


@dataclass
class BenchModels:
    """The two models, their SageMaker artifacts, and the request bodies every system answers."""

    booster: xgboost.Booster
    pipeline: Pipeline
    xgboost_archive: bytes  # model.tar.gz with xgboost-model at its root
    sklearn_archive: bytes  # model.tar.gz with model.joblib at its root
    sourcedir_archive: bytes  # sourcedir.tar.gz with inference.py
    booster_path: Path
    pipeline_path: Path
    rows: np.ndarray
    csv_body: bytes  # no header: SageMaker's text/csv
    mlflow_csv_body: bytes  # the same rows after a header line: MLflow's text/csv needs one
    header_csv_path: Path


def tar_gz(files: dict[str, bytes]) -> bytes:
    archive = io.BytesIO()
    with tarfile.open(fileobj=archive, mode="w:gz") as tar:
        for name, content in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(content)
            info.mtime = int(time.time())
            tar.addfile(info, io.BytesIO(content))
    return archive.getvalue()


def csv_lines(rows: np.ndarray) -> str:
    return "\n".join(",".join(repr(float(value)) for value in row) for row in rows)


def build_models(work: Path, batch_rows: int) -> BenchModels:
    # the built-in algorithm's contract names the file xgboost-model, without an extension
    warnings.filterwarnings("ignore", message=".*Saving model in the UBJSON format")
    features, labels = load_breast_cancer(return_X_y=True)
    booster = xgboost.train(XGBOOST_PARAMS, xgboost.DMatrix(features, label=labels), XGBOOST_ROUNDS)
    booster_path = work / "xgboost-model"
    booster.save_model(str(booster_path))
    pipeline = make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000)).fit(features, labels)
    pipeline_path = work / "model.joblib"
    joblib.dump(pipeline, pipeline_path)
    rows = features[:batch_rows]
    header = ",".join(f"f{index}" for index in range(features.shape[1]))
    header_csv_path = work / "request-with-header.csv"
    header_csv_path.write_text(header + "\n" + csv_lines(rows) + "\n")
    return BenchModels(
        booster=booster,
        pipeline=pipeline,
        xgboost_archive=tar_gz({"xgboost-model": booster_path.read_bytes()}),
        sklearn_archive=tar_gz({"model.joblib": pipeline_path.read_bytes()}),
        sourcedir_archive=tar_gz({"inference.py": INFERENCE_SCRIPT.encode()}),
        booster_path=booster_path,
        pipeline_path=pipeline_path,
        rows=rows,
        csv_body=csv_lines(rows).encode(),
        mlflow_csv_body=header_csv_path.read_bytes(),
        header_csv_path=header_csv_path,
    )


def parse_csv(body: bytes) -> np.ndarray:
    return np.loadtxt(io.StringIO(body.decode()), delimiter=",", ndmin=2)


def parse_answer(body: bytes) -> np.ndarray:
    """Predictions from a CSV answer (one per line) or MLflow's JSON {"predictions": [...]}."""
    text = body.decode().strip()
    if text.startswith("{"):
        return np.asarray(json.loads(text)["predictions"], dtype=float).ravel()
    return np.asarray([float(line) for line in text.replace(",", "\n").split()], dtype=float)


# ---- load generation ------------------------------------------------------------------------------


@dataclass
class PhaseResult:
    model: str
    system: str
    concurrency: int
    requests: int = 0
    rps: float = 0.0
    p50_ms: float = 0.0
    p99_ms: float = 0.0
    server_cpu_ms: float | None = None  # CPU of the server's whole process tree per request
    errors: list[str] = field(default_factory=list)


# A caller factory gives each thread its own caller (its own boto3 client or HTTP connection).
Caller = Callable[[bytes], bytes]


def run_phase(
    make_caller: Callable[[], Caller],
    body: bytes,
    concurrency: int,
    total_requests: int,
    warmup_per_thread: int,
    server_pids: Callable[[], list[int]] | None,
) -> tuple[list[float], float, float | None, list[str]]:
    """Latencies (s), wall time (s), server CPU seconds (or None) and errors of one timed phase."""
    per_thread = max(1, total_requests // concurrency)
    callers = [make_caller() for _ in range(concurrency)]
    latencies: list[list[float]] = [[] for _ in range(concurrency)]
    spans: list[tuple[float, float]] = [(0.0, 0.0)] * concurrency
    errors: list[str] = []
    # warmed up -> the server's CPU is read -> go: the CPU window holds the timed requests only
    warmed_up, go = threading.Barrier(concurrency + 1), threading.Barrier(concurrency + 1)
    deadline = time.monotonic() + PHASE_LIMIT_S + 30  # warm-up included

    def worker(index: int) -> None:
        call = callers[index]
        for _ in range(warmup_per_thread):
            try:
                call(body)
            except Exception as error:  # a failed warm-up shows again in the timed loop
                errors.append(f"warm-up: {error}")
        warmed_up.wait()
        go.wait()
        first = time.perf_counter()
        for _ in range(per_thread):
            if time.monotonic() > deadline:
                break
            start = time.perf_counter()
            try:
                call(body)
            except Exception as error:
                errors.append(str(error)[:300])
                continue
            latencies[index].append(time.perf_counter() - start)
        spans[index] = (first, time.perf_counter())

    threads = [threading.Thread(target=worker, args=(index,), daemon=True) for index in range(concurrency)]
    for thread in threads:
        thread.start()
    warmed_up.wait()
    pids = server_pids() if server_pids else []
    cpu_start = tree_cpu_seconds(pids)
    go.wait()
    for thread in threads:
        thread.join(PHASE_LIMIT_S + 60)
    cpu = tree_cpu_seconds(pids) - cpu_start if server_pids else None
    # from the threads' own clocks: the main thread may get the GIL late while they run
    wall = max(end for _, end in spans) - min(first for first, _ in spans)
    return [x for per in latencies for x in per], wall, cpu, errors


def check_answer(model: str, system: str, answer: np.ndarray, expected: np.ndarray) -> None:
    """Every system must give the in-process predictions before it is timed."""
    if answer.shape != expected.shape or not np.allclose(answer, expected, atol=1e-5):
        raise RuntimeError(f"{system} answered {answer[:5]} for {model}, expected {expected[:5]}")


def measure(
    model: str,
    system: str,
    make_caller: Callable[[], Caller],
    body: bytes,
    args: argparse.Namespace,
    server_pids: Callable[[], list[int]] | None = None,
) -> list[PhaseResult]:
    """One timed phase per concurrency: twice the requests at concurrency 8 as at 1."""
    results = []
    for concurrency in CONCURRENCIES:
        print(f"  {model} / {system} / concurrency {concurrency} ...", file=sys.stderr)
        total = args.requests * (2 if concurrency > 1 else 1)
        latencies, wall, cpu, errors = run_phase(
            make_caller, body, concurrency, total, args.warmup, server_pids
        )
        result = PhaseResult(model, system, concurrency, errors=errors)
        if latencies:
            result.requests = len(latencies)
            result.rps = len(latencies) / wall
            result.p50_ms = percentile(latencies, 50) * 1000
            result.p99_ms = percentile(latencies, 99) * 1000
            if cpu is not None:
                result.server_cpu_ms = cpu / len(latencies) * 1000
        results.append(result)
    return results


# ---- process trees --------------------------------------------------------------------------------


def process_table() -> dict[int, tuple[int, float]]:
    """pid -> (parent pid, CPU seconds used) for every live process."""
    ticks = os.sysconf("SC_CLK_TCK")
    table = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        table[int(entry.name)] = (int(fields[1]), (int(fields[11]) + int(fields[12])) / ticks)
    return table


def descendants(root: int) -> list[int]:
    """root and every process below it (the servers' workers, bwrap sandboxes and their children)."""
    table = process_table()
    found, frontier = [root], [root]
    while frontier:
        parent = frontier.pop()
        children = [pid for pid, (ppid, _) in table.items() if ppid == parent]
        found += children
        frontier += children
    return found


def tree_cpu_seconds(pids: list[int]) -> float:
    table = process_table()
    return sum(table[pid][1] for pid in pids if pid in table)


def start_time(pid: int) -> int | None:
    """The process's start time in clock ticks (None when gone): tells a pid reused since apart."""
    try:
        return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[19])
    except (OSError, IndexError, ValueError):
        return None


def snapshot_tree(root: int) -> list[tuple[int, int | None]]:
    return [(pid, start_time(pid)) for pid in descendants(root)]


def kill_leftovers(snapshot: list[tuple[int, int | None]]) -> None:
    """SIGKILL for the processes of a snapshot that are still the same processes (pid and start time):
    what a server this bench started left running after it stopped."""
    for pid, started in reversed(snapshot):
        if started is not None and start_time(pid) == started:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)


# ---- Nimbus ---------------------------------------------------------------------------------------


def deploy_endpoint(server: Server, name: str, container: dict[str, Any]) -> tuple[str, float]:
    """Creates the model, config and endpoint; returns the status it reached and the seconds to it."""
    sagemaker = server.client("sagemaker")
    sagemaker.create_model(
        ModelName=name, PrimaryContainer=container, ExecutionRoleArn=execution_role(sagemaker)
    )
    variant = {
        "VariantName": "AllTraffic",
        "ModelName": name,
        "InitialInstanceCount": 1,
        "InstanceType": "ml.m5.large",
        "InitialVariantWeight": 1.0,
    }
    sagemaker.create_endpoint_config(EndpointConfigName=name, ProductionVariants=[variant])
    start = time.monotonic()
    sagemaker.create_endpoint(EndpointName=name, EndpointConfigName=name)
    while time.monotonic() - start < ENDPOINT_READY_S:
        described = sagemaker.describe_endpoint(EndpointName=name)
        if described["EndpointStatus"] not in ("Creating", "Updating"):
            status = described["EndpointStatus"]
            if status != "InService":
                status += f": {described.get('FailureReason', '')}"
            return status, time.monotonic() - start
        time.sleep(0.1)
    return f"still Creating after {ENDPOINT_READY_S:.0f} s", time.monotonic() - start


def boto3_caller(server: Server, endpoint: str) -> Caller:
    runtime = server.client("sagemaker-runtime")

    def call(body: bytes) -> bytes:
        answer = runtime.invoke_endpoint(
            EndpointName=endpoint, ContentType="text/csv", Accept="text/csv", Body=body
        )
        return bytes(answer["Body"].read())

    return call


class PlainHttpCaller:
    """One keep-alive HTTP connection (http.client) POSTing CSV, optionally SigV4-signed: the same
    client for Nimbus and MLflow, so that the client's own cost is the same on both sides."""

    def __init__(self, port: int, path: str, signer: SigV4Auth | None = None) -> None:
        self.connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        self.path = path
        self.url = f"http://127.0.0.1:{port}{path}"
        self.signer = signer

    def __call__(self, body: bytes) -> bytes:
        headers = {"Content-Type": "text/csv", "Accept": "text/csv"}
        if self.signer is not None:
            request = AWSRequest(method="POST", url=self.url, data=body, headers=headers)
            self.signer.add_auth(request)
            headers = dict(request.headers.items())
        try:
            self.connection.request("POST", self.path, body=body, headers=headers)
            response = self.connection.getresponse()
        except (BrokenPipeError, ConnectionResetError, http.client.RemoteDisconnected):
            # the server closed an idle keep-alive connection: reconnect once, as HTTP clients do
            self.connection.close()
            self.connection.request("POST", self.path, body=body, headers=headers)
            response = self.connection.getresponse()
        payload = response.read()
        if response.status != 200:
            raise RuntimeError(f"HTTP {response.status}: {payload[:200]!r}")
        return payload


def signed_caller_factory(server: Server, endpoint: str) -> Callable[[], Caller]:
    port = int(server.endpoint_url.rsplit(":", 1)[1])
    credentials = Credentials(server.access_key, server.secret_key)
    path = f"/endpoints/{quote(endpoint, safe='')}/invocations"
    return lambda: PlainHttpCaller(port, path, SigV4Auth(credentials, "sagemaker", REGION))


def nimbus_server_pids(server: Server) -> Callable[[], list[int]]:
    return lambda: descendants(server.proc.pid)


def upload(server: Server, bucket: str, objects: dict[str, bytes]) -> None:
    s3 = server.client("s3")
    with contextlib.suppress(ClientError):
        s3.create_bucket(Bucket=bucket)
    for key, content in objects.items():
        s3.put_object(Bucket=bucket, Key=key, Body=content)


# ---- MLflow ---------------------------------------------------------------------------------------


@dataclass
class MlflowServer:
    port: int
    proc: subprocess.Popen[bytes]
    log_path: Path


def mlflow_env(store: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "NIMBUS_", "MLFLOW_"))}
    env["MLFLOW_TRACKING_URI"] = store
    env.pop("PYTHONPATH", None)  # only the bench venv's packages
    # as an activated venv: `mlflow models serve` runs `uvicorn` from PATH
    env["PATH"] = f"{MLFLOW_PYTHON.parent}{os.pathsep}{env.get('PATH', '')}"
    return env


def log_mlflow_models(work: Path, models: BenchModels) -> tuple[str, dict[str, str]]:
    # MLflow 3.17 refuses the plain file tracking store ("maintenance mode") and points users to
    # SQLite: a local sqlite file for the runs, the model files under work/mlruns
    store = f"sqlite:///{work / 'mlflow.db'}"
    out = subprocess.run(
        [str(MLFLOW_PYTHON), "-c", MLFLOW_LOGGER, store, str(models.booster_path),
         str(models.pipeline_path), str(models.header_csv_path)],
        env=mlflow_env(store), capture_output=True, text=True, timeout=300, check=False, cwd=work,
    )  # fmt: skip
    if out.returncode != 0:
        raise RuntimeError(f"logging the models into MLflow failed:\n{out.stderr[-4000:]}")
    return store, json.loads(out.stdout.strip().splitlines()[-1])


def start_mlflow(work: Path, store: str, model_uri: str, name: str) -> MlflowServer:
    port = free_port()
    log_path = work / f"mlflow-{name}.log"
    mlflow = MLFLOW_PYTHON.parent / "mlflow"
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            [str(mlflow), "models", "serve", "-m", model_uri, "--env-manager", "local",
             "-h", "127.0.0.1", "-p", str(port)],
            env=mlflow_env(store), stdout=log, stderr=subprocess.STDOUT, cwd=work,
            start_new_session=True,  # its workers are stopped with it, as one group
        )  # fmt: skip
    server = MlflowServer(port, proc, log_path)
    wait_until(
        lambda: requests.get(f"http://127.0.0.1:{port}/ping", timeout=2).status_code == 200,
        proc,
        log_path,
        f"mlflow models serve ({name})",
    )
    return server


def stop_mlflow(server: MlflowServer) -> None:
    tree = snapshot_tree(server.proc.pid)
    if server.proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(server.proc.pid, signal.SIGTERM)
        try:
            server.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(server.proc.pid, signal.SIGKILL)
            server.proc.wait(timeout=10)
    kill_leftovers(tree)  # a worker that left the group


def mlflow_version() -> str:
    out = subprocess.run(
        [str(MLFLOW_PYTHON), "-c", "import mlflow; print(mlflow.__version__)"],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    return out.stdout.strip() or "?"


# ---- training -------------------------------------------------------------------------------------


@dataclass
class TrainingRun:
    rows: int = 0
    direct_load_s: float = 0.0
    direct_train_s: float = 0.0
    direct_total_s: float = 0.0
    nimbus_wall_s: float = 0.0
    nimbus_training_time_s: float = 0.0
    nimbus_billable_s: float = 0.0
    phases_s: dict[str, float] = field(default_factory=dict)
    status: str = ""


def training_data(work: Path, rows: int) -> tuple[Path, dict[str, str]]:
    """A synthetic binary classification set as CSV, label first, no header (the built-in's format)."""
    features, labels = make_classification(n_samples=rows, n_features=30, n_informative=12, random_state=0)
    path = work / f"train-{rows}.csv"
    np.savetxt(path, np.column_stack([labels, features]), delimiter=",", fmt="%.8g")
    return path, dict(TRAINING_HYPERPARAMETERS)


def train_directly(path: Path, hyperparameters: dict[str, str], run: TrainingRun) -> None:
    """What the built-in algorithm does, called here: load the CSV, train with the training set as
    the evaluation set (the job prints a metric per round), save the booster."""
    start = time.perf_counter()
    rows = np.loadtxt(path, delimiter=",", ndmin=2)
    matrix = xgboost.DMatrix(rows[:, 1:], label=rows[:, 0])
    loaded = time.perf_counter()
    params: dict[str, Any] = {k: v for k, v in hyperparameters.items() if k != "num_round"}
    params.update(max_depth=int(params["max_depth"]), eta=float(params["eta"]))
    booster = xgboost.train(
        params,
        matrix,
        num_boost_round=int(hyperparameters["num_round"]),
        evals=[(matrix, "train")],
        verbose_eval=False,
    )
    booster.save_model(str(path.parent / "direct-xgboost-model"))
    end = time.perf_counter()
    run.direct_load_s, run.direct_train_s, run.direct_total_s = loaded - start, end - loaded, end - start


def train_with_nimbus(server: Server, bucket: str, hyperparameters: dict[str, str], run: TrainingRun) -> None:
    sagemaker = server.client("sagemaker")
    name = f"bench-{uuid.uuid4().hex[:12]}"
    start = time.monotonic()
    sagemaker.create_training_job(
        TrainingJobName=name,
        AlgorithmSpecification={"TrainingImage": XGBOOST_IMAGE, "TrainingInputMode": "File"},
        RoleArn=execution_role(sagemaker),
        HyperParameters=hyperparameters,
        InputDataConfig=[
            {
                "ChannelName": "train",
                "ContentType": "text/csv",
                "DataSource": {
                    "S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": f"s3://{bucket}/training/train"}
                },
            }
        ],
        OutputDataConfig={"S3OutputPath": f"s3://{bucket}/training/output"},
        ResourceConfig={"InstanceType": "ml.m5.xlarge", "InstanceCount": 1, "VolumeSizeInGB": 5},
        StoppingCondition={"MaxRuntimeInSeconds": int(TRAINING_LIMIT_S)},
    )
    job: dict[str, Any] = {}
    while time.monotonic() - start < TRAINING_LIMIT_S:
        job = sagemaker.describe_training_job(TrainingJobName=name)
        if job["TrainingJobStatus"] not in ("InProgress", "Stopping"):
            break
        time.sleep(0.1)  # the poll interval bounds how late "Completed" is seen
    run.nimbus_wall_s = time.monotonic() - start
    run.status = job.get("TrainingJobStatus", "?")
    if run.status != "Completed":
        run.status += f": {job.get('FailureReason', '')}"
        return
    run.nimbus_training_time_s = float(job.get("TrainingTimeInSeconds", 0))
    run.nimbus_billable_s = float(job.get("BillableTimeInSeconds", 0))
    for transition in job.get("SecondaryStatusTransitions", []):
        if "EndTime" in transition:
            took = (transition["EndTime"] - transition["StartTime"]).total_seconds()
            run.phases_s[transition["Status"]] = took


def bench_training(server: Server, work: Path, args: argparse.Namespace) -> tuple[list[TrainingRun], int]:
    """The big data set's runs, then small ones: on 1,000 rows training takes well under a second,
    so a job's wall time there is Nimbus's fixed cost per job (sandbox, interpreter, polling)."""
    runs = []
    csv_bytes = 0
    for rows, count in ((args.training_rows, args.training_runs), (SMALL_TRAINING_ROWS, args.training_runs)):
        path, hyperparameters = training_data(work, rows)
        csv_bytes = csv_bytes or path.stat().st_size
        bucket = f"bench-train-{uuid.uuid4().hex[:8]}"
        upload(server, bucket, {"training/train/train.csv": path.read_bytes()})
        for index in range(count):
            print(f"  training on {rows:,} rows, run {index + 1} of {count} ...", file=sys.stderr)
            run = TrainingRun(rows=rows)
            train_directly(path, hyperparameters, run)
            train_with_nimbus(server, bucket, hyperparameters, run)
            runs.append(run)
    return runs, csv_bytes


# ---- report ---------------------------------------------------------------------------------------


def machine_info() -> str:
    cpu = "unknown CPU"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    memory_kib = 0
    with contextlib.suppress(OSError, IndexError, ValueError):
        memory_kib = int(Path("/proc/meminfo").read_text().split("MemTotal:")[1].split()[0])
    return (
        f"{os.cpu_count()} CPUs (`nproc` {len(os.sched_getaffinity(0))}), {cpu}, "
        f"{memory_kib / 1024 / 1024:.1f} GiB memory, Python {platform.python_version()}, "
        f"xgboost {xgboost.__version__}"
    )


def machine_busy_cpu_seconds() -> float:
    """CPU seconds all processes of the machine have used since boot (/proc/stat, all CPUs)."""
    values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:9]]
    user, nice, system, _idle, _iowait, irq, softirq, steal = values
    return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")


def own_cpu_seconds() -> float:
    """CPU seconds of this bench and everything it started (live and already reaped)."""
    reaped = os.times()
    return tree_cpu_seconds(descendants(os.getpid())) + reaped.children_user + reaped.children_system


def load_average() -> str:
    return " / ".join(f"{value:.2f}" for value in os.getloadavg())


def inference_table(results: list[PhaseResult], in_process_p50: dict[tuple[str, int], float]) -> list[str]:
    lines = [
        "| model | system (client) | conc. | requests | req/s | p50 ms | p99 ms "
        "| p50 over in-process ms | server CPU ms/req |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for result in results:
        if not result.requests:
            lines.append(f"| {result.model} | {result.system} | {result.concurrency} | 0 | failed | | | | |")
            continue
        base = in_process_p50.get((result.model, result.concurrency))
        added = f"{result.p50_ms - base:+.2f}" if base is not None and result.system != "in-process" else ""
        cpu = f"{result.server_cpu_ms:.2f}" if result.server_cpu_ms is not None else ""
        lines.append(
            f"| {result.model} | {result.system} | {result.concurrency} | {result.requests} "
            f"| {result.rps:,.0f} | {result.p50_ms:.2f} | {result.p99_ms:.2f} | {added} | {cpu} |"
        )
    return lines


def aims(results: list[PhaseResult], in_process_p50: dict[tuple[str, int], float]) -> list[str]:
    """The issue's aims, checked against this run: faster than MLflow, < 2 ms added p50."""
    found = {(r.model, r.system, r.concurrency): r for r in results if r.requests}
    lines = []
    for model in dict.fromkeys(r.model for r in results):
        mlflow = {c: found.get((model, "MLflow (plain HTTP)", c)) for c in CONCURRENCIES}
        for system in ("Nimbus (boto3)", "Nimbus (plain HTTP + SigV4)"):
            for concurrency in CONCURRENCIES:
                ours, peer = found.get((model, system, concurrency)), mlflow[concurrency]
                if ours is None or peer is None:
                    continue
                base = in_process_p50[(model, concurrency)]
                lines.append(
                    f"- {model}, {system}, concurrency {concurrency}: "
                    f"{ours.rps / peer.rps:.2f}x MLflow's req/s, p50 {peer.p50_ms / ours.p50_ms:.2f}x "
                    f"faster; added p50 over in-process {ours.p50_ms - base:.2f} ms "
                    f"({'under' if ours.p50_ms - base < 2 else 'NOT under'} 2 ms)"
                )
    return lines


def training_table(runs: list[TrainingRun], csv_bytes: int, args: argparse.Namespace) -> list[str]:
    lines = [
        f"Training: {args.training_rows:,} (and {SMALL_TRAINING_ROWS:,}) rows x 30 features, synthetic "
        f"(make_classification), CSV {csv_bytes / 1024 / 1024:.1f} MiB; hyperparameters "
        + ", ".join(f"{k}={v}" for k, v in TRAINING_HYPERPARAMETERS.items())
        + " (the training set evaluated each round, as the job does). Direct: np.loadtxt of the same "
        "CSV file + DMatrix + xgboost.train in the bench process. Nimbus: CreateTrainingJob -> "
        "Completed seen by DescribeTrainingJob polled every 0.1 s; its phases from "
        "SecondaryStatusTransitions. Runs alternate direct / Nimbus. The 1,000-row runs show the "
        "fixed cost of a job.",
        "",
        "| rows, run | direct: load CSV | direct: train | direct: total | Nimbus: create -> Completed "
        "| Nimbus: Training phase | Nimbus: other phases | TrainingTimeInSeconds | Nimbus / direct |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for rows in dict.fromkeys(run.rows for run in runs):
        group = [run for run in runs if run.rows == rows]
        for index, run in enumerate(group, 1):
            label = f"{rows:,} #{index}"
            if run.status != "Completed":
                lines.append(f"| {label} | {run.direct_load_s:.2f} | {run.direct_train_s:.2f} "
                             f"| {run.direct_total_s:.2f} | {run.status} | | | | |")  # fmt: skip
                continue
            lines.append(training_row(label, run))
        completed = [run for run in group if run.status == "Completed"]
        if len(completed) > 1:
            lines.append(training_row(f"{rows:,} median", median_run(completed)))
    return lines


def median_run(runs: list[TrainingRun]) -> TrainingRun:
    return TrainingRun(
        rows=runs[0].rows,
        direct_load_s=statistics.median(r.direct_load_s for r in runs),
        direct_train_s=statistics.median(r.direct_train_s for r in runs),
        direct_total_s=statistics.median(r.direct_total_s for r in runs),
        nimbus_wall_s=statistics.median(r.nimbus_wall_s for r in runs),
        nimbus_training_time_s=statistics.median(r.nimbus_training_time_s for r in runs),
        phases_s={
            "Training": statistics.median(r.phases_s.get("Training", 0.0) for r in runs),
            "other": statistics.median(other_phases_s(r) for r in runs),
        },
    )


def other_phases_s(run: TrainingRun) -> float:
    return sum(seconds for status, seconds in run.phases_s.items() if status != "Training")


def training_row(label: str, run: TrainingRun) -> str:
    other = other_phases_s(run)
    return (
        f"| {label} | {run.direct_load_s:.2f} s | {run.direct_train_s:.2f} s | {run.direct_total_s:.2f} s "
        f"| {run.nimbus_wall_s:.2f} s | {run.phases_s.get('Training', 0.0):.2f} s | {other:.2f} s "
        f"| {run.nimbus_training_time_s:.0f} s | {run.nimbus_wall_s / run.direct_total_s:.2f}x |"
    )


# ---- main -----------------------------------------------------------------------------------------


@contextlib.contextmanager
def running_nimbus(work: Path) -> Iterator[Server]:
    server = start_nimbus(work)
    try:
        yield server
    finally:
        tree = snapshot_tree(server.proc.pid)
        server.stop()  # SIGINT: Nimbus stops its endpoint workers itself
        kill_leftovers(tree)


def bench_inference(
    server: Server, work: Path, models: BenchModels, args: argparse.Namespace, notes: list[str]
) -> list[PhaseResult]:
    results: list[PhaseResult] = []
    expected = {
        "XGBoost": np.asarray(models.booster.predict(xgboost.DMatrix(models.rows)), dtype=float),
        "scikit-learn": np.asarray(models.pipeline.predict(models.rows), dtype=float),
    }

    def xgboost_in_process() -> Caller:
        def call(body: bytes) -> bytes:
            return np.asarray(models.booster.predict(xgboost.DMatrix(parse_csv(body))), dtype=float).tobytes()

        return call

    def sklearn_in_process() -> Caller:
        def call(body: bytes) -> bytes:
            return np.asarray(models.pipeline.predict(parse_csv(body)), dtype=float).tobytes()

        return call

    bucket = f"bench-{uuid.uuid4().hex[:8]}"
    upload(
        server,
        bucket,
        {
            "xgboost/model.tar.gz": models.xgboost_archive,
            "sklearn/model.tar.gz": models.sklearn_archive,
            "sklearn/sourcedir.tar.gz": models.sourcedir_archive,
        },
    )
    containers = {
        "XGBoost": {"Image": XGBOOST_IMAGE, "ModelDataUrl": f"s3://{bucket}/xgboost/model.tar.gz"},
        "scikit-learn": {
            "Image": SKLEARN_IMAGE,
            "ModelDataUrl": f"s3://{bucket}/sklearn/model.tar.gz",
            "Environment": {
                "SAGEMAKER_PROGRAM": "inference.py",
                "SAGEMAKER_SUBMIT_DIRECTORY": f"s3://{bucket}/sklearn/sourcedir.tar.gz",
            },
        },
    }
    endpoints: dict[str, str] = {}
    for model, container in containers.items():
        name = f"bench-{model.lower().replace('-', '')}-{uuid.uuid4().hex[:6]}"
        try:
            status, seconds = deploy_endpoint(server, name, container)
        except ClientError as error:
            status, seconds = f"refused: {error}", 0.0
        notes.append(f"Nimbus {model} endpoint (1 instance): {status} after {seconds:.1f} s")
        if status == "InService":
            endpoints[model] = name

    store, model_uris = log_mlflow_models(work, models)
    mlflow_servers: dict[str, MlflowServer] = {}
    try:
        for model, key in (("XGBoost", "xgboost"), ("scikit-learn", "sklearn")):
            print(f"starting mlflow models serve for {model} ...", file=sys.stderr)
            mlflow_servers[model] = start_mlflow(work, store, model_uris[key], key)
            processes = len(descendants(mlflow_servers[model].proc.pid))
            notes.append(f"MLflow {model} server: {processes} processes (the CLI, uvicorn and its workers)")
        in_process = {"XGBoost": xgboost_in_process, "scikit-learn": sklearn_in_process}
        for model in ("XGBoost", "scikit-learn"):
            answer = np.frombuffer(in_process[model]()(models.csv_body), dtype=float)
            check_answer(model, "in-process", answer, expected[model])
            results += measure(model, "in-process", in_process[model], models.csv_body, args)
            if model in endpoints:
                nimbus_callers = {
                    "Nimbus (boto3)": lambda m=model: boto3_caller(server, endpoints[m]),
                    "Nimbus (plain HTTP + SigV4)": signed_caller_factory(server, endpoints[model]),
                }
                for system, factory in nimbus_callers.items():
                    check_answer(model, system, parse_answer(factory()(models.csv_body)), expected[model])
                    pids = nimbus_server_pids(server)
                    results += measure(model, system, factory, models.csv_body, args, pids)
            mlflow_server = mlflow_servers[model]

            def mlflow_caller(port: int = mlflow_server.port) -> Caller:
                return PlainHttpCaller(port, "/invocations")

            answer = parse_answer(mlflow_caller()(models.mlflow_csv_body))
            check_answer(model, "MLflow", answer, expected[model])
            results += measure(
                model, "MLflow (plain HTTP)", mlflow_caller, models.mlflow_csv_body, args,
                lambda s=mlflow_server: descendants(s.proc.pid),
            )  # fmt: skip
    finally:
        for mlflow_server in mlflow_servers.values():
            stop_mlflow(mlflow_server)
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--requests", type=int, default=500, help="timed requests at concurrency 1 (twice that at 8)"
    )
    parser.add_argument("--warmup", type=int, default=20, help="untimed requests per thread first")
    parser.add_argument("--batch-rows", type=int, default=1, help="breast-cancer rows per request")
    parser.add_argument("--training-rows", type=int, default=100_000)
    parser.add_argument("--training-runs", type=int, default=2)
    parser.add_argument("--skip-training", action="store_true")
    parser.add_argument("--skip-inference", action="store_true")
    args = parser.parse_args(argv)
    # a SIGTERM unwinds like Ctrl-C, so that every server this bench started is stopped
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))
    if not MLFLOW_PYTHON.exists() and not args.skip_inference:
        print(f"{MLFLOW_PYTHON} is missing: run `bench/run.sh sagemaker`, which creates it", file=sys.stderr)
        return 2

    started_at = datetime.now(UTC)
    load_before = load_average()
    # the CPU other work used meanwhile says how busy the shared machine was, the bench's own load apart
    busy_before, own_before = machine_busy_cpu_seconds(), own_cpu_seconds()
    wall_start = time.monotonic()
    notes: list[str] = []
    results: list[PhaseResult] = []
    runs: list[TrainingRun] = []
    csv_bytes = 0
    with tempfile.TemporaryDirectory(prefix="nimbus-sagemaker-bench-") as tmp:
        work = Path(tmp)
        models = build_models(work, args.batch_rows)
        print("starting nimbus ...", file=sys.stderr)
        with running_nimbus(work) as server:
            if not args.skip_inference:
                results = bench_inference(server, work, models, args, notes)
            if not args.skip_training:
                runs, csv_bytes = bench_training(server, work, args)

    wall_s = time.monotonic() - wall_start
    others_s = (machine_busy_cpu_seconds() - busy_before) - (own_cpu_seconds() - own_before)
    cores = len(os.sched_getaffinity(0))
    in_process_p50 = {(r.model, r.concurrency): r.p50_ms for r in results if r.system == "in-process"}
    lines = [
        f"{started_at:%Y-%m-%d %H:%M} UTC; machine: {machine_info()}.",
        f"Load average (1/5/15 min) before: {load_before}; after: {load_average()}; "
        f"bench wall time {wall_s:.0f} s. Other work on the machine (not this bench) used "
        f"{max(0.0, others_s):.0f} CPU-s of the {wall_s * cores:.0f} the {cores} cores had in that time "
        f"({max(0.0, others_s) / (wall_s * cores) * 100:.0f}%).",
        "",
    ]
    if results:
        lines += [
            f"Inference: {args.batch_rows} breast-cancer row(s) per request as text/csv (Accept text/csv); "
            f"{args.requests} timed requests at concurrency 1 and {args.requests * 2} at 8 (threads, "
            f"each with its own client), after {args.warmup} untimed ones per thread; loopback. "
            f"XGBoost: booster of {XGBOOST_ROUNDS} rounds, max_depth 4. scikit-learn: "
            "StandardScaler + LogisticRegression pipeline. Server CPU: user+system CPU of the server's "
            "whole process tree (Nimbus gateway + endpoint worker; MLflow's server and its workers) "
            f"per request. MLflow {mlflow_version()}, `mlflow models serve` defaults: one uvicorn worker "
            "process (--workers / MLFLOW_MODELS_WORKERS unset), 60 s request timeout.",
            "",
            *inference_table(results, in_process_p50),
            "",
            *notes_lines(notes, results),
            "",
            "Aims (faster than MLflow; under 2 ms of added p50 over in-process predict):",
            "",
            *aims(results, in_process_p50),
            "",
        ]
    if runs:
        lines += training_table(runs, csv_bytes, args)
    print("\n".join(lines))
    return 0


def notes_lines(notes: list[str], results: list[PhaseResult]) -> list[str]:
    lines = [f"- {note}" for note in notes]
    for result in results:
        if result.errors:
            lines.append(
                f"- {result.model} / {result.system} / concurrency {result.concurrency}: "
                f"{len(result.errors)} failed requests, first: {result.errors[0]}"
            )
    return lines


if __name__ == "__main__":
    sys.exit(main())
