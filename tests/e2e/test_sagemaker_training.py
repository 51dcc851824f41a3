"""SageMaker training with boto3: the built-in XGBoost algorithm really trains, in a sandbox."""

from __future__ import annotations

import io
import tarfile
import time
import uuid
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import xgboost as xgb
from botocore.exceptions import ClientError
from conftest import NimbusServer, error_code
from roles import execution_role
from sklearn.datasets import load_breast_cancer
from sklearn.model_selection import train_test_split

IMAGE = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost:1.7-1"
PARAMS = {
    "objective": "binary:logistic",
    "num_round": "20",
    "max_depth": "3",
    "eta": "0.3",
    "eval_metric": "error",
}


@pytest.fixture(scope="module")
def sagemaker(nimbus: NimbusServer) -> Any:
    return nimbus.client("sagemaker")


@pytest.fixture(scope="module")
def data(nimbus: NimbusServer) -> dict[str, Any]:
    features, labels = load_breast_cancer(return_X_y=True)
    train_x, test_x, train_y, test_y = train_test_split(features, labels, test_size=0.25, random_state=0)
    bucket = f"train-{uuid.uuid4().hex[:12]}"
    s3 = nimbus.client("s3")
    s3.create_bucket(Bucket=bucket)
    buffer = io.StringIO()
    np.savetxt(buffer, np.column_stack([train_y, train_x]), delimiter=",", fmt="%.10g")
    s3.put_object(Bucket=bucket, Key="data/train/train.csv", Body=buffer.getvalue().encode())
    return {
        "bucket": bucket,
        "train_x": train_x,
        "train_y": train_y,
        "test_x": test_x,
        "test_y": test_y,
        "csv": buffer.getvalue(),
    }


def create_job(sagemaker: Any, bucket: str, name: str | None = None, **overrides: Any) -> str:
    name = name or f"job-{uuid.uuid4().hex[:12]}"
    request: dict[str, Any] = {
        "TrainingJobName": name,
        "AlgorithmSpecification": {"TrainingImage": IMAGE, "TrainingInputMode": "File"},
        "RoleArn": execution_role(sagemaker),
        "HyperParameters": PARAMS,
        "InputDataConfig": [
            {
                "ChannelName": "train",
                "ContentType": "text/csv",
                "DataSource": {
                    "S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": f"s3://{bucket}/data/train"}
                },
            }
        ],
        "OutputDataConfig": {"S3OutputPath": f"s3://{bucket}/output"},
        "ResourceConfig": {"InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 5},
        "StoppingCondition": {"MaxRuntimeInSeconds": 600},
    }
    request.update(overrides)
    sagemaker.create_training_job(**request)
    return name


def wait(sagemaker: Any, name: str, timeout: float = 90) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = sagemaker.describe_training_job(TrainingJobName=name)
        if job["TrainingJobStatus"] not in ("InProgress", "Stopping"):
            return job
        time.sleep(0.3)
    raise AssertionError(f"{name} still {job['TrainingJobStatus']}")


def test_xgboost_trains_the_same_model_as_xgboost_itself(
    nimbus: NimbusServer, sagemaker: Any, data: dict
) -> None:
    name = create_job(sagemaker, data["bucket"])
    job = wait(sagemaker, name)
    assert job["TrainingJobStatus"] == "Completed", job.get("FailureReason")
    assert job["SecondaryStatus"] == "Completed"
    statuses = [t["Status"] for t in job["SecondaryStatusTransitions"]]
    assert statuses == ["Starting", "Downloading", "Training", "Uploading", "Completed"]
    assert job["BillableTimeInSeconds"] >= 1
    metrics = {m["MetricName"]: m["Value"] for m in job["FinalMetricDataList"]}
    assert "train:error" in metrics and metrics["train:error"] < 0.1
    artifact = job["ModelArtifacts"]["S3ModelArtifacts"]
    assert artifact == f"s3://{data['bucket']}/output/{name}/output/model.tar.gz"

    body = nimbus.client("s3").get_object(Bucket=data["bucket"], Key=f"output/{name}/output/model.tar.gz")[
        "Body"
    ]
    with tarfile.open(fileobj=io.BytesIO(body.read())) as tar:
        model_bytes = tar.extractfile("xgboost-model").read()  # type: ignore[union-attr]
    booster = xgb.Booster()
    booster.load_model(bytearray(model_bytes))

    rows = np.loadtxt(io.StringIO(data["csv"]), delimiter=",")
    params = {k: v for k, v in PARAMS.items() if k != "num_round"}
    local = xgb.train({**params, "max_depth": 3, "eta": 0.3}, xgb.DMatrix(rows[:, 1:], label=rows[:, 0]), 20)
    test = xgb.DMatrix(data["test_x"])
    predictions = booster.predict(test)
    np.testing.assert_allclose(predictions, local.predict(test), rtol=1e-5, atol=1e-6)
    assert ((predictions > 0.5) == data["test_y"]).mean() > 0.9

    logs = nimbus.client("logs")
    streams = logs.describe_log_streams(logGroupName="/aws/sagemaker/TrainingJobs", logStreamNamePrefix=name)
    stream = streams["logStreams"][0]["logStreamName"]
    assert stream.startswith(f"{name}/algo-1-")
    events = logs.get_log_events(
        logGroupName="/aws/sagemaker/TrainingJobs", logStreamName=stream, startFromHead=True
    )["events"]
    assert any(e["message"].startswith("[19]#011train-error:") for e in events)
    found = logs.filter_log_events(
        logGroupName="/aws/sagemaker/TrainingJobs", logStreamNames=[stream], filterPattern='"[0]"'
    )["events"]
    assert len(found) == 1

    listed = sagemaker.list_training_jobs(NameContains=name, StatusEquals="Completed")["TrainingJobSummaries"]
    assert [j["TrainingJobName"] for j in listed] == [name]


def test_unknown_image_is_refused(sagemaker: Any, data: dict) -> None:
    algorithm = {
        "TrainingImage": "123456789012.dkr.ecr.us-east-1.amazonaws.com/mine:1",
        "TrainingInputMode": "File",
    }
    with pytest.raises(ClientError) as error:
        create_job(sagemaker, data["bucket"], AlgorithmSpecification=algorithm)
    assert error_code(error) == "ValidationException"
    assert "sagemaker-xgboost:1.7-1" in str(error.value)


def test_duplicate_name_is_in_use(sagemaker: Any, data: dict) -> None:
    name = create_job(sagemaker, data["bucket"])
    with pytest.raises(ClientError) as error:
        create_job(sagemaker, data["bucket"], name=name)
    assert error_code(error) == "ResourceInUse"
    wait(sagemaker, name)


def test_missing_train_channel_fails_naming_it(sagemaker: Any, data: dict) -> None:
    channel = {
        "ChannelName": "validation",
        "ContentType": "text/csv",
        "DataSource": {
            "S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": f"s3://{data['bucket']}/data/train"}
        },
    }
    job = wait(sagemaker, create_job(sagemaker, data["bucket"], InputDataConfig=[channel]))
    assert job["TrainingJobStatus"] == "Failed"
    assert "'train'" in job["FailureReason"]


def test_empty_channel_prefix_fails(sagemaker: Any, data: dict) -> None:
    channel = {
        "ChannelName": "train",
        "DataSource": {
            "S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": f"s3://{data['bucket']}/nothing/here"}
        },
    }
    job = wait(sagemaker, create_job(sagemaker, data["bucket"], InputDataConfig=[channel]))
    assert job["TrainingJobStatus"] == "Failed"
    assert "No S3 objects found" in job["FailureReason"]


@pytest.mark.parametrize(
    ("name", "value", "reason"), [("num_round", "-1", "num_round"), ("objective", "nope", "nope")]
)
def test_bad_hyperparameter_fails_with_the_users_error(
    sagemaker: Any, data: dict, name: str, value: str, reason: str
) -> None:
    job = wait(sagemaker, create_job(sagemaker, data["bucket"], HyperParameters={**PARAMS, name: value}))
    assert job["TrainingJobStatus"] == "Failed"
    assert job["FailureReason"].startswith("AlgorithmError") and reason in job["FailureReason"]
    assert sagemaker.list_training_jobs(MaxResults=1)["TrainingJobSummaries"]  # the server carries on


def test_stop_a_long_job(sagemaker: Any, data: dict) -> None:
    name = create_job(sagemaker, data["bucket"], HyperParameters={**PARAMS, "num_round": "100000000"})
    deadline = time.monotonic() + 30
    while sagemaker.describe_training_job(TrainingJobName=name)["SecondaryStatus"] != "Training":
        assert time.monotonic() < deadline
        time.sleep(0.2)
    sagemaker.stop_training_job(TrainingJobName=name)
    job = wait(sagemaker, name, timeout=30)
    assert job["TrainingJobStatus"] == "Stopped"
    assert job["SecondaryStatus"] == "Stopped"


def test_max_runtime_is_enforced(sagemaker: Any, data: dict) -> None:
    job = wait(
        sagemaker,
        create_job(
            sagemaker,
            data["bucket"],
            HyperParameters={**PARAMS, "num_round": "100000000"},
            StoppingCondition={"MaxRuntimeInSeconds": 3},
        ),
        timeout=30,
    )
    assert (job["TrainingJobStatus"], job["SecondaryStatus"]) == ("Stopped", "MaxRuntimeExceeded")


def test_a_restart_fails_the_running_job(sagemaker: Any, data: dict, restart_server: Any) -> None:
    name = create_job(sagemaker, data["bucket"], HyperParameters={**PARAMS, "num_round": "100000000"})
    deadline = time.monotonic() + 30
    while sagemaker.describe_training_job(TrainingJobName=name)["SecondaryStatus"] != "Training":
        assert time.monotonic() < deadline
        time.sleep(0.2)
    restart_server()
    job = sagemaker.describe_training_job(TrainingJobName=name)
    assert (job["TrainingJobStatus"], job["SecondaryStatus"]) == ("Failed", "Failed")
    assert job["FailureReason"] == "The Nimbus node running the job stopped (restarted or died)"
    # the job's sandbox died with the old server: nothing of it is left running
    assert not [
        entry.name
        for entry in Path("/proc").iterdir()
        if entry.name.isdigit() and name in _command_line(entry)
    ]


def _command_line(process: Path) -> str:
    try:
        return (process / "cmdline").read_bytes().decode(errors="replace")
    except OSError:
        return ""
