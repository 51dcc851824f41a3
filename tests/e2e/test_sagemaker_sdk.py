"""A data scientist's SageMaker Python SDK v2 notebook, unchanged, against Nimbus: upload data,
fit the built-in XGBoost with its logs streamed, deploy, predict, delete the endpoint and model."""

from __future__ import annotations

import time
import uuid
from pathlib import Path
from typing import Any

import boto3
import numpy as np
import pytest
import sagemaker
import xgboost
from conftest import NimbusServer
from sagemaker.estimator import Estimator
from sagemaker.inputs import TrainingInput
from sagemaker.serializers import CSVSerializer
from sklearn.datasets import load_breast_cancer
from sklearn.model_selection import train_test_split

PARAMS = {"objective": "binary:logistic", "num_round": 20}
SPEEDUP = 10.0


class FastClock:
    """The SDK's clock, ten times faster. The SDK waits fixed intervals (5 s before each describe,
    10 s between log reads, 30 s between endpoint checks); every call still goes to Nimbus."""

    def __init__(self) -> None:
        self.skipped = 0.0

    def time(self) -> float:
        return time.time() + self.skipped

    def sleep(self, seconds: float) -> None:
        time.sleep(seconds / SPEEDUP)
        self.skipped += seconds - seconds / SPEEDUP


@pytest.fixture
def session(nimbus: NimbusServer, monkeypatch: pytest.MonkeyPatch) -> Any:
    """A notebook's session: AWS_* in the environment, the SDK built on a fresh boto3 session."""
    for name, value in nimbus.env().items():
        if name.startswith("AWS_"):
            monkeypatch.setenv(name, value)
    monkeypatch.setattr(sagemaker.session, "time", FastClock())
    boto_session = boto3.Session()
    bucket = f"sdk-{uuid.uuid4().hex[:12]}"
    boto_session.client("s3").create_bucket(Bucket=bucket)
    return sagemaker.Session(boto_session=boto_session, default_bucket=bucket)


def test_fit_deploy_predict(session: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    features, labels = load_breast_cancer(return_X_y=True)
    train_x, test_x, train_y, test_y = train_test_split(features, labels, test_size=0.25, random_state=0)
    train_file = tmp_path / "train.csv"
    np.savetxt(train_file, np.column_stack([train_y, train_x]), delimiter=",", fmt="%.10g")
    train_uri = session.upload_data(str(train_file), key_prefix="sdk/train")

    estimator = Estimator(
        image_uri=sagemaker.image_uris.retrieve("xgboost", "us-east-1", "1.7-1"),
        role=f"arn:aws:iam::{_account(session)}:role/SageMakerRole",
        instance_count=1,
        instance_type="ml.m5.large",
        output_path=f"s3://{session.default_bucket()}/sdk/output",
        hyperparameters=PARAMS,
        sagemaker_session=session,
    )
    estimator.fit({"train": TrainingInput(train_uri, content_type="text/csv")}, logs=True)
    assert "[19]#011train-logloss" in capsys.readouterr().out  # the job's own lines, from the logs service
    predictor = estimator.deploy(
        initial_instance_count=1, instance_type="ml.m5.large", serializer=CSVSerializer()
    )
    try:
        answer = predictor.predict(test_x)
    finally:
        predictor.delete_model()
        predictor.delete_endpoint()

    predicted = np.array([float(line) for line in answer.decode().splitlines()])
    rows = np.loadtxt(train_file, delimiter=",")  # as the job read them: the CSV's rounding
    local = xgboost.train(
        {"objective": "binary:logistic"}, xgboost.DMatrix(rows[:, 1:], label=rows[:, 0]), num_boost_round=20
    )
    np.testing.assert_allclose(predicted, local.predict(xgboost.DMatrix(test_x)), atol=1e-6)
    assert ((predicted > 0.5) == test_y).mean() > 0.9


def _account(session: Any) -> str:
    """The caller's account, from STS. Not ``session.account_id()``: it names the AWS STS endpoint
    outright, so AWS_ENDPOINT_URL cannot redirect it."""
    return session.boto_session.client("sts").get_caller_identity()["Account"]
