"""Script mode: the user's training script and inference handlers in the scikit-learn, XGBoost and
PyTorch framework images, through the SageMaker Python SDK v2 and boto3."""

from __future__ import annotations

import io
import json
import tarfile
import textwrap
import uuid
from pathlib import Path
from typing import Any

import joblib
import numpy as np
import pytest
import xgboost
from botocore.exceptions import ClientError
from conftest import NimbusServer, error_code, http_status
from job_support import gz_archive, settled, training_job_ended
from roles import execution_role
from sagemaker.sklearn import SKLearn, SKLearnModel
from sagemaker_sdk_support import notebook_session, role
from sklearn.datasets import load_breast_cancer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split

SKLEARN_IMAGE = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-scikit-learn:1.2-1-cpu-py3"
XGBOOST_IMAGE = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost:1.7-1"
PYTORCH_TRAINING_IMAGE = "763104351884.dkr.ecr.us-east-1.amazonaws.com/pytorch-training:2.5.1-cpu-py311"
PYTORCH_INFERENCE_IMAGE = "763104351884.dkr.ecr.us-east-1.amazonaws.com/pytorch-inference:2.5.1-cpu-py311"

SKLEARN_TRAIN = """
import argparse, os
import joblib, numpy as np
from sklearn.linear_model import LogisticRegression

if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("-C", type=float)  # one-letter hyperparameters come as -C, as AWS passes them
    parser.add_argument("--max_iter", type=int)
    parser.add_argument("--model-dir", default=os.environ["SM_MODEL_DIR"])
    parser.add_argument("--train", default=os.environ["SM_CHANNEL_TRAIN"])
    args = parser.parse_args()
    data = np.loadtxt(os.path.join(args.train, "train.csv"), delimiter=",")
    model = LogisticRegression(C=args.C, max_iter=args.max_iter).fit(data[:, 1:], data[:, 0])
    print(f"train_accuracy={model.score(data[:, 1:], data[:, 0]):.6f}")
    joblib.dump(model, os.path.join(args.model_dir, "model.joblib"))
"""
SKLEARN_INFERENCE = """
import os
import joblib

def model_fn(model_dir):
    return joblib.load(os.path.join(model_dir, "model.joblib"))

def predict_fn(data, model):
    return model.predict_proba(data)[:, 1]
"""


@pytest.fixture
def session(nimbus: NimbusServer, monkeypatch: pytest.MonkeyPatch) -> Any:
    return notebook_session(nimbus, monkeypatch)


@pytest.fixture(scope="module")
def cancer() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    features, labels = load_breast_cancer(return_X_y=True)
    train_x, test_x, train_y, test_y = train_test_split(features, labels, test_size=0.2, random_state=0)
    return train_x, test_x, train_y, test_y


def _write(folder: Path, files: dict[str, str]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (folder / name).write_text(textwrap.dedent(text))
    return folder


def test_sklearn_estimator_and_inference_script(session: Any, cancer: Any, tmp_path: Path) -> None:
    """SKLearn.fit runs train.py with the hyperparameters as arguments and the channel at
    SM_CHANNEL_TRAIN; SKLearnModel serves the model with inference.py's model_fn and predict_fn."""
    train_x, test_x, train_y, _ = cancer
    data = tmp_path / "data" / "train.csv"
    data.parent.mkdir()
    np.savetxt(data, np.column_stack([train_y, train_x]), delimiter=",", fmt="%.17g")
    train_uri = session.upload_data(str(data), key_prefix="script/train")
    code = _write(tmp_path / "code", {"train.py": SKLEARN_TRAIN, "inference.py": SKLEARN_INFERENCE})

    estimator = SKLearn(
        entry_point="train.py",
        source_dir=str(code),
        framework_version="1.2-1",
        instance_type="ml.m5.large",
        instance_count=1,
        role=role(session),
        sagemaker_session=session,
        hyperparameters={"C": 0.5, "max_iter": 5000},
        metric_definitions=[{"Name": "train:accuracy", "Regex": r"train_accuracy=([0-9.]+)"}],
    )
    estimator.fit({"train": train_uri}, logs=False)
    job = session.sagemaker_client.describe_training_job(TrainingJobName=estimator.latest_training_job.name)
    assert job["TrainingJobStatus"] == "Completed", job.get("FailureReason")
    expected = LogisticRegression(C=0.5, max_iter=5000).fit(train_x, train_y)
    metrics = {m["MetricName"]: m["Value"] for m in job["FinalMetricDataList"]}
    assert metrics["train:accuracy"] == pytest.approx(expected.score(train_x, train_y), abs=1e-6)

    model = SKLearnModel(
        model_data=estimator.model_data,
        role=role(session),
        entry_point="inference.py",
        source_dir=str(code),
        framework_version="1.2-1",
        sagemaker_session=session,
    )
    predictor = model.deploy(initial_instance_count=1, instance_type="ml.m5.large")
    try:
        predicted = predictor.predict(test_x)
        np.testing.assert_allclose(predicted, expected.predict_proba(test_x)[:, 1], atol=1e-6)
    finally:
        predictor.delete_endpoint()


def _source_archive(files: dict[str, str]) -> bytes:
    return gz_archive({name: textwrap.dedent(text).encode() for name, text in files.items()})


def _train(
    nimbus: NimbusServer,
    bucket: str,
    image: str,
    script: str,
    hyperparameters: dict[str, Any],
    channel: dict[str, bytes] | None = None,
) -> dict[str, Any]:
    """A script-mode job as the SDK creates it (JSON-encoded hyperparameters, sagemaker_program,
    sagemaker_submit_directory), run to its end."""
    s3, sagemaker = nimbus.client("s3"), nimbus.client("sagemaker")
    name = f"script-{uuid.uuid4().hex[:10]}"
    s3.put_object(
        Bucket=bucket, Key=f"{name}/source/sourcedir.tar.gz", Body=_source_archive({"train.py": script})
    )
    for key, body in (channel or {}).items():
        s3.put_object(Bucket=bucket, Key=f"{name}/train/{key}", Body=body)
    encoded = {key: json.dumps(value) for key, value in hyperparameters.items()}
    channels = [
        {
            "ChannelName": "train",
            "DataSource": {
                "S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": f"s3://{bucket}/{name}/train/"}
            },
        }
    ]
    encoded |= {
        "sagemaker_program": json.dumps("train.py"),
        "sagemaker_submit_directory": json.dumps(f"s3://{bucket}/{name}/source/sourcedir.tar.gz"),
    }
    sagemaker.create_training_job(
        TrainingJobName=name,
        AlgorithmSpecification={"TrainingImage": image, "TrainingInputMode": "File"},
        RoleArn=execution_role(sagemaker),
        HyperParameters=encoded,
        OutputDataConfig={"S3OutputPath": f"s3://{bucket}/output"},
        ResourceConfig={"InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 10},
        StoppingCondition={"MaxRuntimeInSeconds": 300},
        **({"InputDataConfig": channels} if channel else {}),
    )
    return training_job_ended(sagemaker, name)


def _serve(
    nimbus: NimbusServer, image: str, model_data: str, environment: dict[str, str]
) -> tuple[str, dict[str, Any]]:
    sagemaker = nimbus.client("sagemaker")
    name = f"script-{uuid.uuid4().hex[:10]}"
    sagemaker.create_model(
        ModelName=name,
        PrimaryContainer={"Image": image, "ModelDataUrl": model_data, "Environment": environment},
        ExecutionRoleArn=execution_role(sagemaker),
    )
    sagemaker.create_endpoint_config(
        EndpointConfigName=name,
        ProductionVariants=[
            {
                "VariantName": "AllTraffic",
                "ModelName": name,
                "InitialInstanceCount": 1,
                "InstanceType": "ml.m5.large",
            }
        ],
    )
    sagemaker.create_endpoint(EndpointName=name, EndpointConfigName=name)
    return name, settled(
        lambda: sagemaker.describe_endpoint(EndpointName=name), "EndpointStatus", ("Creating",), 60, every=0.2
    )


def _csv(rows: np.ndarray) -> bytes:
    return "\n".join(",".join(repr(float(v)) for v in row) for row in rows).encode()


XGBOOST_TRAIN = """
import argparse, os
import numpy as np, xgboost

if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--num_round", type=int)
    parser.add_argument("--max_depth", type=int)
    args = parser.parse_args()
    data = np.loadtxt(os.path.join(os.environ["SM_CHANNEL_TRAIN"], "train.csv"), delimiter=",")
    booster = xgboost.train(
        {"objective": "binary:logistic", "max_depth": args.max_depth},
        xgboost.DMatrix(data[:, 1:], label=data[:, 0]),
        num_boost_round=args.num_round,
    )
    booster.save_model(os.path.join(os.environ["SM_MODEL_DIR"], "xgboost-model"))
"""


def test_xgboost_framework_script_with_default_handlers(
    nimbus: NimbusServer, bucket: str, cancer: Any
) -> None:
    train_x, test_x, train_y, _ = cancer
    rows = np.column_stack([train_y, train_x])
    buffer = io.StringIO()
    np.savetxt(buffer, rows, delimiter=",", fmt="%.17g")
    job = _train(
        nimbus,
        bucket,
        XGBOOST_IMAGE,
        XGBOOST_TRAIN,
        {"num_round": 15, "max_depth": 3},
        {"train.csv": buffer.getvalue().encode()},
    )
    assert job["TrainingJobStatus"] == "Completed", job.get("FailureReason")
    source = job["HyperParameters"]["sagemaker_submit_directory"].strip('"')
    endpoint, described = _serve(
        nimbus,
        XGBOOST_IMAGE,
        job["ModelArtifacts"]["S3ModelArtifacts"],
        {"SAGEMAKER_PROGRAM": "train.py", "SAGEMAKER_SUBMIT_DIRECTORY": source},
    )
    assert described["EndpointStatus"] == "InService", described.get("FailureReason")
    answer = nimbus.client("sagemaker-runtime").invoke_endpoint(
        EndpointName=endpoint, ContentType="text/csv", Accept="text/csv", Body=_csv(test_x)
    )
    predicted = np.loadtxt(io.StringIO(answer["Body"].read().decode()), delimiter=",")
    expected = xgboost.train(
        {"objective": "binary:logistic", "max_depth": 3},
        xgboost.DMatrix(train_x, label=train_y),
        num_boost_round=15,
    )
    # the container reads CSV as float32, as AWS's does
    np.testing.assert_allclose(
        predicted, expected.predict(xgboost.DMatrix(test_x.astype(np.float32))), atol=1e-6
    )
    nimbus.client("sagemaker").delete_endpoint(EndpointName=endpoint)


def test_failing_script_fails_the_job_with_its_error(nimbus: NimbusServer, bucket: str) -> None:
    script = """
    import sys
    print("loading the data")
    raise ValueError("the train channel has no label column")
    """
    job = _train(nimbus, bucket, SKLEARN_IMAGE, script, {})
    assert job["TrainingJobStatus"] == "Failed"
    assert job["FailureReason"].startswith("AlgorithmError: ExecuteUserScriptError:")
    assert "ValueError: the train channel has no label column" in job["FailureReason"]
    events = nimbus.client("logs").filter_log_events(
        logGroupName="/aws/sagemaker/TrainingJobs", logStreamNamePrefix=job["TrainingJobName"]
    )["events"]
    assert any("loading the data" in event["message"] for event in events)


PYTORCH_TRAIN = """
import os
import torch

if __name__ == "__main__":
    torch.manual_seed(0)
    features = torch.randn(200, 3)
    target = features @ torch.tensor([[2.0], [-1.0], [0.5]]) + 0.25
    model = torch.nn.Linear(3, 1)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    for _ in range(200):
        optimizer.zero_grad()
        loss = torch.nn.functional.mse_loss(model(features), target)
        loss.backward()
        optimizer.step()
    print(f"loss={loss.item():.6f}")
    torch.jit.script(model).save(os.path.join(os.environ["SM_MODEL_DIR"], "model.pt"))
"""
PYTORCH_INFERENCE = """
def predict_fn(data, model):
    if (data < -100).any():
        raise ValueError("inputs below -100 are out of range")
    model.eval()
    return model(data)
"""


def test_pytorch_with_code_inside_the_model(nimbus: NimbusServer, bucket: str, tmp_path: Path) -> None:
    """The SDK repacks a PyTorch model with its code at ``code/`` and points
    SAGEMAKER_SUBMIT_DIRECTORY at /opt/ml/model/code; the default model_fn loads TorchScript
    ``model.pt``; a predict_fn that raises is a ModelError with the container's 500."""
    import torch

    job = _train(nimbus, bucket, PYTORCH_TRAINING_IMAGE, PYTORCH_TRAIN, {})
    assert job["TrainingJobStatus"] == "Completed", job.get("FailureReason")
    s3 = nimbus.client("s3")
    artifact_key = job["ModelArtifacts"]["S3ModelArtifacts"].removeprefix(f"s3://{bucket}/")
    trained = s3.get_object(Bucket=bucket, Key=artifact_key)["Body"].read()
    with tarfile.open(fileobj=io.BytesIO(trained)) as tar:
        tar.extractall(tmp_path / "model", filter="data")
    repacked = io.BytesIO()
    with tarfile.open(fileobj=repacked, mode="w:gz") as tar:
        tar.add(tmp_path / "model" / "model.pt", arcname="model.pt")
        code = _write(tmp_path / "code", {"inference.py": PYTORCH_INFERENCE})
        tar.add(code / "inference.py", arcname="code/inference.py")
    s3.put_object(Bucket=bucket, Key="repacked/model.tar.gz", Body=repacked.getvalue())

    endpoint, described = _serve(
        nimbus,
        PYTORCH_INFERENCE_IMAGE,
        f"s3://{bucket}/repacked/model.tar.gz",
        {"SAGEMAKER_PROGRAM": "inference.py", "SAGEMAKER_SUBMIT_DIRECTORY": "/opt/ml/model/code"},
    )
    assert described["EndpointStatus"] == "InService", described.get("FailureReason")
    runtime = nimbus.client("sagemaker-runtime")
    rows = [[1.0, 2.0, 3.0], [-0.5, 0.0, 4.0]]
    answer = runtime.invoke_endpoint(
        EndpointName=endpoint,
        ContentType="application/json",
        Accept="application/json",
        Body=json.dumps(rows),
    )
    assert answer["ContentType"] == "application/json"
    local = torch.jit.load(str(tmp_path / "model" / "model.pt"))
    expected = local(torch.tensor(rows)).detach().numpy()
    np.testing.assert_allclose(np.array(json.loads(answer["Body"].read())), expected, atol=1e-5)
    np.testing.assert_allclose(expected[:, 0], np.array(rows) @ [2.0, -1.0, 0.5] + 0.25, atol=0.05)

    with pytest.raises(ClientError) as caught:
        runtime.invoke_endpoint(
            EndpointName=endpoint, ContentType="application/json", Body=json.dumps([[-500.0, 0, 0]])
        )
    assert error_code(caught) == "ModelError"
    assert http_status(caught) == 424
    assert caught.value.response["OriginalStatusCode"] in (500, "500")
    assert "ValueError: inputs below -100 are out of range" in caught.value.response["Error"]["Message"]
    nimbus.client("sagemaker").delete_endpoint(EndpointName=endpoint)


def test_sklearn_model_without_model_fn_fails_the_endpoint(
    nimbus: NimbusServer, bucket: str, tmp_path: Path
) -> None:
    s3 = nimbus.client("s3")
    joblib.dump(LogisticRegression(), tmp_path / "model.joblib")
    archive = io.BytesIO()
    with tarfile.open(fileobj=archive, mode="w:gz") as tar:
        tar.add(tmp_path / "model.joblib", arcname="model.joblib")
    s3.put_object(Bucket=bucket, Key="nofn/model.tar.gz", Body=archive.getvalue())
    s3.put_object(
        Bucket=bucket, Key="nofn/sourcedir.tar.gz", Body=_source_archive({"inference.py": "import os\n"})
    )
    _, described = _serve(
        nimbus,
        SKLEARN_IMAGE,
        f"s3://{bucket}/nofn/model.tar.gz",
        {
            "SAGEMAKER_PROGRAM": "inference.py",
            "SAGEMAKER_SUBMIT_DIRECTORY": f"s3://{bucket}/nofn/sourcedir.tar.gz",
        },
    )
    assert described["EndpointStatus"] == "Failed"
    assert "Please provide a model_fn implementation" in described["FailureReason"]


def test_images_nimbus_cannot_run_are_refused_at_create(nimbus: NimbusServer) -> None:
    sagemaker = nimbus.client("sagemaker")
    for image, environment, words in [
        ("123456789012.dkr.ecr.us-east-1.amazonaws.com/my-own-image:latest", {}, "it runs"),
        (SKLEARN_IMAGE, {}, "SAGEMAKER_PROGRAM"),
    ]:
        with pytest.raises(ClientError) as caught:
            sagemaker.create_model(
                ModelName=f"refused-{uuid.uuid4().hex[:8]}",
                PrimaryContainer={
                    "Image": image,
                    "ModelDataUrl": "s3://b/model.tar.gz",
                    "Environment": environment,
                },
                ExecutionRoleArn=execution_role(sagemaker),
            )
        assert error_code(caught) == "ValidationException"
        assert words in caught.value.response["Error"]["Message"]
    assert not [m for m in sagemaker.list_models()["Models"] if m["ModelName"].startswith("refused-")]
