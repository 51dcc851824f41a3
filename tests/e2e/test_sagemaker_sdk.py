"""A data scientist's SageMaker Python SDK v2 notebook, unchanged, against Nimbus: upload data,
fit the built-in XGBoost with its logs streamed, deploy, predict, delete the endpoint and model."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
import sagemaker
import xgboost
from conftest import NimbusServer
from sagemaker.estimator import Estimator
from sagemaker.inputs import TrainingInput
from sagemaker.serializers import CSVSerializer
from sagemaker_sdk_support import notebook_session, role
from sklearn.datasets import load_breast_cancer
from sklearn.model_selection import train_test_split

PARAMS = {"objective": "binary:logistic", "num_round": 20}


@pytest.fixture
def session(nimbus: NimbusServer, monkeypatch: pytest.MonkeyPatch) -> Any:
    return notebook_session(nimbus, monkeypatch)


def test_fit_deploy_predict(session: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    features, labels = load_breast_cancer(return_X_y=True)
    train_x, test_x, train_y, test_y = train_test_split(features, labels, test_size=0.25, random_state=0)
    train_file = tmp_path / "train.csv"
    np.savetxt(train_file, np.column_stack([train_y, train_x]), delimiter=",", fmt="%.10g")
    train_uri = session.upload_data(str(train_file), key_prefix="sdk/train")

    estimator = Estimator(
        image_uri=sagemaker.image_uris.retrieve("xgboost", "us-east-1", "1.7-1"),
        role=role(session),
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
