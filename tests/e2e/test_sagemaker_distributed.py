"""Training on several instances: torch DDP through the SageMaker Python SDK's PyTorch estimator
(``torch_distributed``: torchrun on every instance, gloo between them), ShardedByS3Key channels, one
log stream per instance, a failing instance failing the job, a stop stopping every instance."""

from __future__ import annotations

import io
import json
import tarfile
import textwrap
import time
import uuid
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
import xgboost
from botocore.exceptions import ClientError
from conftest import NimbusServer, error_code, http_status
from roles import execution_role
from sagemaker.inputs import TrainingInput
from sagemaker.pytorch import PyTorch
from sagemaker_sdk_support import notebook_session, role

PYTORCH_TRAINING_IMAGE = "763104351884.dkr.ecr.us-east-1.amazonaws.com/pytorch-training:2.5.1-cpu-py311"
XGBOOST_IMAGE = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost:1.7-1"
LINEAR_LEARNER_IMAGE = "382416733822.dkr.ecr.us-east-1.amazonaws.com/linear-learner:1"
XGBOOST_PARAMS = {
    "num_round": "8",
    "max_depth": "3",
    "eta": "0.3",
    "objective": "reg:squarederror",
    "base_score": "0.5",
}
LOG_GROUP = "/aws/sagemaker/TrainingJobs"
FEATURES, ROWS_PER_FILE, FILES = 4, 32, 4
EPOCHS, LEARNING_RATE = 25, 0.05

DDP_TRAIN = """
import argparse, glob, json, os, socket
import numpy as np
import torch
import torch.distributed as dist
from torch.nn.parallel import DistributedDataParallel

parser = argparse.ArgumentParser()
parser.add_argument("--epochs", type=int)
parser.add_argument("--lr", type=float)
args = parser.parse_args()
dist.init_process_group("gloo")  # torchrun's MASTER_ADDR / MASTER_PORT / RANK / WORLD_SIZE
host = os.environ["SM_CURRENT_HOST"]
files = sorted(glob.glob(os.path.join(os.environ["SM_CHANNEL_TRAIN"], "*.csv")))
data = torch.tensor(np.concatenate([np.loadtxt(f, delimiter=",", ndmin=2) for f in files]))
y, x = data[:, :1], data[:, 1:]
torch.manual_seed(0)
model = torch.nn.Linear(x.shape[1], 1).double()
ddp = DistributedDataParallel(model)
optimizer = torch.optim.SGD(ddp.parameters(), lr=args.lr)
for epoch in range(args.epochs):
    optimizer.zero_grad()
    torch.nn.functional.mse_loss(ddp(x), y).backward()  # the gradients are averaged over gloo
    optimizer.step()
with torch.no_grad():
    squared = torch.nn.functional.mse_loss(model(x), y, reduction="sum")
total = torch.stack([squared, torch.tensor(float(len(y)), dtype=torch.float64)])
dist.all_reduce(total)
print(f"final_loss={(total[0] / total[1]).item():.12f}", flush=True)
seen = {
    "files": [os.path.basename(f) for f in files],
    "rank": dist.get_rank(),
    "world": dist.get_world_size(),
    "hosts": json.loads(os.environ["SM_HOSTS"]),
    "hostname": socket.gethostname(),
    "addresses": {h: socket.gethostbyname(h) for h in json.loads(os.environ["SM_HOSTS"])},
    "weight": model.weight.detach().ravel().tolist(),
    "bias": model.bias.detach().tolist(),
}
with open(os.path.join(os.environ["SM_MODEL_DIR"], f"{host}.json"), "w") as out:
    json.dump(seen, out)
dist.destroy_process_group()
"""

SLEEPER = """
import os, sys, time
host = os.environ["SM_CURRENT_HOST"]
print(f"{host} sees {','.join(sorted(os.listdir(os.environ['SM_CHANNEL_TRAIN'])))}", flush=True)
print(f"{host} started", flush=True)
if os.environ.get("FAIL_ON") == os.environ["SM_CURRENT_HOST"]:
    raise ValueError("this instance refuses its shard")
time.sleep(300)
"""


@pytest.fixture
def session(nimbus: NimbusServer, monkeypatch: pytest.MonkeyPatch) -> Any:
    return notebook_session(nimbus, monkeypatch)


def _shards() -> list[np.ndarray]:
    """Four files whose features differ in range: training on some of them only gives other weights."""
    rng = np.random.default_rng(7)
    truth = np.array([1.5, -2.0, 0.5, 3.0])
    shards = []
    for index in range(FILES):
        x = rng.normal(loc=index - 1.5, scale=1.0 + index / 2, size=(ROWS_PER_FILE, FEATURES))
        y = x @ truth + 0.7 + rng.normal(scale=0.1, size=ROWS_PER_FILE)
        shards.append(np.column_stack([y, x]))
    return shards


def _train_locally(rows: np.ndarray) -> tuple[float, np.ndarray]:
    """The same training in one process on ``rows``: its final loss and weights (bias last)."""
    data = torch.tensor(rows)
    y, x = data[:, :1], data[:, 1:]
    torch.manual_seed(0)
    model = torch.nn.Linear(FEATURES, 1).double()
    optimizer = torch.optim.SGD(model.parameters(), lr=LEARNING_RATE)
    for _ in range(EPOCHS):
        optimizer.zero_grad()
        torch.nn.functional.mse_loss(model(x), y).backward()
        optimizer.step()
    with torch.no_grad():
        loss = torch.nn.functional.mse_loss(model(x), y).item()
    return loss, np.append(model.weight.detach().numpy().ravel(), model.bias.detach().numpy())


def test_torch_distributed_trains_across_two_instances(
    session: Any, nimbus: NimbusServer, tmp_path: Path
) -> None:
    """Two instances, each torchrun with one gloo worker on its ShardedByS3Key half of the data: DDP
    averages their gradients, so both end with the weights and loss of one process trained on all of
    it (and not those of their half alone); each instance has its log stream, its hostname, its
    address; what both left in /opt/ml/model is in the one model archive."""
    shards = _shards()
    data = tmp_path / "data"
    data.mkdir()
    for index, rows in enumerate(shards):
        np.savetxt(data / f"part-{index}.csv", rows, delimiter=",", fmt="%.17g")
    train_uri = session.upload_data(str(data), key_prefix="distributed/train")
    code = tmp_path / "code"
    code.mkdir()
    (code / "train.py").write_text(textwrap.dedent(DDP_TRAIN))

    estimator = PyTorch(
        entry_point="train.py",
        source_dir=str(code),
        image_uri=PYTORCH_TRAINING_IMAGE,
        instance_type="ml.m5.large",
        instance_count=2,
        role=role(session),
        sagemaker_session=session,
        distribution={"torch_distributed": {"enabled": True}},
        hyperparameters={"epochs": EPOCHS, "lr": LEARNING_RATE},
        metric_definitions=[{"Name": "final_loss", "Regex": r"final_loss=([0-9.e-]+)"}],
    )
    estimator.fit({"train": TrainingInput(train_uri, distribution="ShardedByS3Key")}, logs=False)
    name = estimator.latest_training_job.name
    job = session.sagemaker_client.describe_training_job(TrainingJobName=name)
    assert job["TrainingJobStatus"] == "Completed", job.get("FailureReason")

    expected_loss, expected_weights = _train_locally(np.concatenate(shards))
    metrics = {m["MetricName"]: m["Value"] for m in job["FinalMetricDataList"]}
    assert metrics["final_loss"] == pytest.approx(expected_loss, rel=1e-6)

    bucket, key = estimator.model_data.removeprefix("s3://").split("/", 1)
    archive = session.boto_session.client("s3").get_object(Bucket=bucket, Key=key)["Body"].read()
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        seen = {
            member.name.removesuffix(".json"): json.load(tar.extractfile(member))  # type: ignore[arg-type]
            for member in tar.getmembers()
            if member.isfile()
        }
    assert sorted(seen) == ["algo-1", "algo-2"]
    assert seen["algo-1"]["files"] == ["part-0.csv", "part-2.csv"]
    assert seen["algo-2"]["files"] == ["part-1.csv", "part-3.csv"]
    _, half_weights = _train_locally(np.concatenate([shards[0], shards[2]]))
    assert not np.allclose(half_weights, expected_weights, rtol=1e-3)  # exchanging gradients matters
    for host, found in seen.items():
        assert (found["rank"], found["world"]) == (int(host[-1]) - 1, 2)
        assert found["hosts"] == ["algo-1", "algo-2"] and found["hostname"] == host
        np.testing.assert_allclose(found["weight"] + found["bias"], expected_weights, rtol=1e-6)
    addresses = seen["algo-1"]["addresses"]
    assert addresses == seen["algo-2"]["addresses"]
    assert addresses["algo-1"] != addresses["algo-2"] and all(
        a.startswith("127.") for a in addresses.values()
    )

    logs = session.boto_session.client("logs")
    streams = logs.describe_log_streams(logGroupName=LOG_GROUP, logStreamNamePrefix=f"{name}/")["logStreams"]
    assert sorted(s["logStreamName"].rsplit("-", 1)[0] for s in streams) == [
        f"{name}/algo-1",
        f"{name}/algo-2",
    ]
    for stream in streams:
        events = logs.get_log_events(logGroupName=LOG_GROUP, logStreamName=stream["logStreamName"])["events"]
        assert any("final_loss=" in event["message"] for event in events)


def _source_archive(script: str) -> bytes:
    archive = io.BytesIO()
    with tarfile.open(fileobj=archive, mode="w:gz") as tar:
        body = textwrap.dedent(script).encode()
        info = tarfile.TarInfo("train.py")
        info.size = len(body)
        tar.addfile(info, io.BytesIO(body))
    return archive.getvalue()


@pytest.fixture(scope="module")
def sleeper(nimbus: NimbusServer) -> dict[str, Any]:
    """A script-mode request on two instances whose script sleeps, or fails on the host FAIL_ON names."""
    s3 = nimbus.client("s3")
    bucket = f"distributed-{uuid.uuid4().hex[:12]}"
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="source/sourcedir.tar.gz", Body=_source_archive(SLEEPER))
    for name in ("a.csv", "b.csv"):
        s3.put_object(Bucket=bucket, Key=f"replicated/{name}", Body=b"1,2\n")
    source = {"S3DataType": "S3Prefix", "S3Uri": f"s3://{bucket}/replicated/"}
    return {
        "AlgorithmSpecification": {"TrainingImage": PYTORCH_TRAINING_IMAGE, "TrainingInputMode": "File"},
        "RoleArn": execution_role(s3),
        "HyperParameters": {
            "sagemaker_program": json.dumps("train.py"),
            "sagemaker_submit_directory": json.dumps(f"s3://{bucket}/source/sourcedir.tar.gz"),
        },
        "InputDataConfig": [
            {
                "ChannelName": "train",
                "DataSource": {"S3DataSource": {**source, "S3DataDistributionType": "FullyReplicated"}},
            }
        ],
        "OutputDataConfig": {"S3OutputPath": f"s3://{bucket}/output"},
        "ResourceConfig": {"InstanceType": "ml.m5.large", "InstanceCount": 2, "VolumeSizeInGB": 5},
        "StoppingCondition": {"MaxRuntimeInSeconds": 600},
    }


def test_builtin_xgboost_trains_across_two_instances(nimbus: NimbusServer, sleeper: dict[str, Any]) -> None:
    train_xgboost_across_two_instances(nimbus, sleeper)


def train_xgboost_across_two_instances(
    nimbus: NimbusServer, sleeper: dict[str, Any], timeout_s: float = 120.0
) -> str:
    """Each instance reads its ShardedByS3Key half; through xgboost's collective (algo-1's tracker)
    their histograms are summed, so the model algo-1 saves is the one xgboost grows on all the rows
    (the features have few distinct values: the quantile sketch is exact either way). Returns the
    job's name."""
    s3, sagemaker = nimbus.client("s3"), nimbus.client("sagemaker")
    bucket = sleeper["OutputDataConfig"]["S3OutputPath"].removeprefix("s3://").split("/")[0]
    rng = np.random.default_rng(3)
    x = np.round(rng.uniform(0, 5, size=(240, 3)), 1)
    y = np.sin(x[:, 0]) + x[:, 1] * x[:, 2] / 5 + rng.normal(scale=0.05, size=len(x))
    rows = np.column_stack([y, x])
    halves = [rows[:120], rows[120:]]
    for index, half in enumerate(halves):
        buffer = io.StringIO()
        np.savetxt(buffer, half, delimiter=",", fmt="%.10g")
        s3.put_object(Bucket=bucket, Key=f"xgboost/train/part-{index}.csv", Body=buffer.getvalue().encode())
    name = f"xgboost-{uuid.uuid4().hex[:10]}"
    source = {"S3DataType": "S3Prefix", "S3Uri": f"s3://{bucket}/xgboost/train/"}
    sagemaker.create_training_job(
        **{
            **sleeper,
            "TrainingJobName": name,
            "AlgorithmSpecification": {"TrainingImage": XGBOOST_IMAGE, "TrainingInputMode": "File"},
            "HyperParameters": XGBOOST_PARAMS,
            "InputDataConfig": [
                {
                    "ChannelName": "train",
                    "ContentType": "text/csv",
                    "DataSource": {"S3DataSource": {**source, "S3DataDistributionType": "ShardedByS3Key"}},
                }
            ],
        }
    )
    job = _wait(sagemaker, name, timeout_s=timeout_s)
    assert job["TrainingJobStatus"] == "Completed", job.get("FailureReason")
    bucket, key = job["ModelArtifacts"]["S3ModelArtifacts"].removeprefix("s3://").split("/", 1)
    with tarfile.open(fileobj=io.BytesIO(s3.get_object(Bucket=bucket, Key=key)["Body"].read())) as tar:
        assert tar.getnames() == ["xgboost-model"]  # algo-1's only
        model = bytearray(tar.extractfile("xgboost-model").read())  # type: ignore[union-attr]
    trained = xgboost.Booster(model_file=model)
    params = {name: value for name, value in XGBOOST_PARAMS.items() if name != "num_round"}
    everything = xgboost.train(params, xgboost.DMatrix(x, label=y), int(XGBOOST_PARAMS["num_round"]))
    half = xgboost.train(params, xgboost.DMatrix(halves[0][:, 1:], label=halves[0][:, 0]), 8)
    probe = xgboost.DMatrix(np.round(rng.uniform(0, 5, size=(50, 3)), 1))
    np.testing.assert_allclose(trained.predict(probe), everything.predict(probe), atol=1e-5)
    assert not np.allclose(half.predict(probe), everything.predict(probe), atol=1e-3)
    return name


def _wait(
    sagemaker: Any, name: str, leaving: tuple[str, ...] = ("InProgress", "Stopping"), timeout_s: float = 120.0
) -> dict[str, Any]:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        job = sagemaker.describe_training_job(TrainingJobName=name)
        if job["TrainingJobStatus"] not in leaving:
            return job
        time.sleep(0.3)
    raise AssertionError(f"{name} is still {job['TrainingJobStatus']}")


def _log_lines(logs: Any, name: str) -> list[str]:
    """Every instance's log lines."""
    streams = logs.describe_log_streams(logGroupName=LOG_GROUP, logStreamNamePrefix=f"{name}/")["logStreams"]
    return [
        event["message"]
        for stream in streams
        for event in logs.get_log_events(logGroupName=LOG_GROUP, logStreamName=stream["logStreamName"])[
            "events"
        ]
    ]


def test_a_failing_instance_fails_the_job_and_a_stop_stops_every_instance(
    nimbus: NimbusServer, sleeper: dict[str, Any]
) -> None:
    sagemaker, logs = nimbus.client("sagemaker"), nimbus.client("logs")
    failing = f"fails-{uuid.uuid4().hex[:10]}"
    sagemaker.create_training_job(TrainingJobName=failing, Environment={"FAIL_ON": "algo-2"}, **sleeper)
    stopped = f"stops-{uuid.uuid4().hex[:10]}"
    sagemaker.create_training_job(TrainingJobName=stopped, **sleeper)

    job = _wait(sagemaker, failing)  # algo-1 sleeps 300 s: the job ends because algo-2's failure stops it
    assert job["TrainingJobStatus"] == "Failed"
    assert job["FailureReason"].startswith("AlgorithmError: algo-2 failed: ")
    assert "this instance refuses its shard" in job["FailureReason"]

    deadline = time.monotonic() + 60
    while not {"algo-1 started", "algo-2 started"} <= set(_log_lines(logs, stopped)):
        assert time.monotonic() < deadline, "the instances did not start"
        time.sleep(0.3)
    # a FullyReplicated channel: every instance has all its objects
    assert {"algo-1 sees a.csv,b.csv", "algo-2 sees a.csv,b.csv"} <= set(_log_lines(logs, stopped))
    sagemaker.stop_training_job(TrainingJobName=stopped)
    assert _wait(sagemaker, stopped)["TrainingJobStatus"] == "Stopped"


@pytest.mark.parametrize(
    "change",
    [
        {"HyperParameters": {"sagemaker_distributed_dataparallel_enabled": "true"}},
        {"EnableNetworkIsolation": True},
        {
            "AlgorithmSpecification": {"TrainingImage": LINEAR_LEARNER_IMAGE, "TrainingInputMode": "File"},
            "HyperParameters": {"feature_dim": "2", "predictor_type": "regressor"},
        },
        {
            "ResourceConfig": {
                "InstanceGroups": [
                    {"InstanceGroupName": "workers", "InstanceType": "ml.m5.large", "InstanceCount": 2}
                ],
                "VolumeSizeInGB": 5,
            }
        },
    ],
    ids=["smddp", "network-isolation", "built-in-algorithm", "instance-groups"],
)
def test_what_cannot_run_on_several_instances_is_refused(
    nimbus: NimbusServer, sleeper: dict[str, Any], change: dict[str, Any]
) -> None:
    sagemaker = nimbus.client("sagemaker")
    name = f"refused-{uuid.uuid4().hex[:10]}"
    request = {**sleeper, **change}
    if "sagemaker_distributed_dataparallel_enabled" in request["HyperParameters"]:
        request["HyperParameters"] = {**sleeper["HyperParameters"], **change["HyperParameters"]}
    with pytest.raises(ClientError) as raised:
        sagemaker.create_training_job(TrainingJobName=name, **request)
    assert (error_code(raised.value), http_status(raised.value)) == ("ValidationException", 400)
    assert "Nimbus" in raised.value.response["Error"]["Message"]
    with pytest.raises(ClientError):
        sagemaker.describe_training_job(TrainingJobName=name)
