"""What tests of long-running work share: waiting for a job or an endpoint to settle, the
gzipped tar archives SageMaker takes (source directories, model artifacts, payloads), and one
built-in XGBoost training job on public data."""

from __future__ import annotations

import io
import tarfile
import time
from collections.abc import Callable, Collection, Mapping
from typing import Any

TRAINING_BUSY = ("InProgress", "Stopping")
XGBOOST_IMAGE = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost:1.7-1"


def settled(
    describe: Callable[[], Mapping[str, Any]],
    status: str,
    busy: Collection[str],
    timeout: float,
    every: float = 0.3,
) -> dict[str, Any]:
    """Describes until the ``status`` member leaves ``busy``; fails the test after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while True:
        described = dict(describe())
        if described[status] not in busy:
            return described
        if time.monotonic() > deadline:
            raise AssertionError(f"still {described[status]} after {timeout} s: {described}")
        time.sleep(every)


def training_job_ended(sagemaker: Any, name: str, timeout: float = 120) -> dict[str, Any]:
    return settled(
        lambda: sagemaker.describe_training_job(TrainingJobName=name),
        "TrainingJobStatus",
        TRAINING_BUSY,
        timeout,
    )


def gz_archive(files: Mapping[str, bytes]) -> bytes:
    data = io.BytesIO()
    with tarfile.open(fileobj=data, mode="w:gz") as tar:
        for name, body in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(body)
            tar.addfile(info, io.BytesIO(body))
    return data.getvalue()


def start_xgboost_training(s3: Any, sagemaker: Any, bucket: str, name: str, role: str, rounds: int) -> None:
    """Starts (does not await) built-in XGBoost on scikit-learn's breast cancer data, written as
    the algorithm's headerless CSV (label first) under ``s3://bucket/train/``."""
    from sklearn.datasets import load_breast_cancer

    features, labels = load_breast_cancer(return_X_y=True)
    rows = "\n".join(
        ",".join(f"{v:.10g}" for v in (label, *row)) for label, row in zip(labels, features, strict=True)
    )
    s3.put_object(Bucket=bucket, Key="train/train.csv", Body=rows.encode())
    sagemaker.create_training_job(
        TrainingJobName=name,
        AlgorithmSpecification={"TrainingImage": XGBOOST_IMAGE, "TrainingInputMode": "File"},
        RoleArn=role,
        HyperParameters={"objective": "binary:logistic", "num_round": str(rounds), "eval_metric": "error"},
        InputDataConfig=[
            {
                "ChannelName": "train",
                "ContentType": "text/csv",
                "DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": f"s3://{bucket}/train"}},
            }
        ],
        OutputDataConfig={"S3OutputPath": f"s3://{bucket}/output"},
        ResourceConfig={"InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 5},
        StoppingCondition={"MaxRuntimeInSeconds": 600},
    )
