"""The SageMaker Python SDK v3 against Nimbus: ``ModelTrainer`` trains the built-in XGBoost with its
logs shown, the core resources host the model, and ``Endpoint.invoke`` predicts.

SDK v3 cannot share a virtual environment with the SDK v2 that the other tests import, so the user's
script (tests/e2e/sdk_v3/train_and_deploy.py) runs in .venv-sdk3 (`make install-test` builds it from
requirements/sdk-v3.txt). Its IAM calls (SimulatePrincipalPolicy and GetRole, which ModelTrainer
makes to validate the execution role) are answered by Nimbus's IAM.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import xgboost
from botocore.exceptions import ClientError
from conftest import REPO_ROOT, NimbusServer, error_code
from sklearn.datasets import load_breast_cancer
from sklearn.model_selection import train_test_split

SDK_V3_PYTHON = REPO_ROOT / ".venv-sdk3" / "bin" / "python"
SCRIPT = Path(__file__).parent / "sdk_v3" / "train_and_deploy.py"
ROLE_NAME = "NimbusSdkV3SageMakerRole"  # the script's execution role
# SageMaker's own config file: no telemetry events to AWS from a test run
SDK_CONFIG = """SchemaVersion: '1.0'
SageMaker:
  PythonSDK:
    Modules:
      TelemetryOptOut: true
"""


@pytest.fixture
def sdk_v3_python() -> Path:
    if not SDK_V3_PYTHON.exists():
        pytest.fail("the SageMaker SDK v3 environment is missing: run `make install-test`")
    return SDK_V3_PYTHON


def test_model_trainer_train_deploy_invoke(nimbus: NimbusServer, sdk_v3_python: Path, tmp_path: Path) -> None:
    features, labels = load_breast_cancer(return_X_y=True)
    train_x, test_x, train_y, test_y = train_test_split(features, labels, test_size=0.25, random_state=0)
    train_file, test_file = tmp_path / "train.csv", tmp_path / "test.csv"
    np.savetxt(train_file, np.column_stack([train_y, train_x]), delimiter=",", fmt="%.10g")
    np.savetxt(test_file, test_x, delimiter=",", fmt="%.10g")
    config = tmp_path / "sagemaker-config.yaml"
    config.write_text(SDK_CONFIG)
    answer_file = tmp_path / "answer.json"

    proc = subprocess.run(
        [str(sdk_v3_python), str(SCRIPT), str(train_file), str(test_file), str(answer_file)],
        env={**nimbus.env(), "SAGEMAKER_USER_CONFIG_OVERRIDE": str(config)},
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    assert proc.returncode == 0, f"stdout:\n{proc.stdout[-6000:]}\nstderr:\n{proc.stderr[-6000:]}"
    assert "[19]#011train-logloss" in proc.stdout  # the job's own lines, read from the logs service
    answer = json.loads(answer_file.read_text())

    predicted = np.array(answer["predictions"])
    rows = np.loadtxt(train_file, delimiter=",")
    local = xgboost.train(
        {"objective": "binary:logistic"}, xgboost.DMatrix(rows[:, 1:], label=rows[:, 0]), num_boost_round=20
    )
    np.testing.assert_allclose(predicted, local.predict(xgboost.DMatrix(test_x)), atol=1e-6)
    np.testing.assert_allclose(answer["transformed"], local.predict(xgboost.DMatrix(test_x)), atol=1e-6)
    assert ((predicted > 0.5) == test_y).mean() > 0.9

    sagemaker = nimbus.client("sagemaker")
    job = sagemaker.describe_training_job(TrainingJobName=answer["job"])
    assert job["TrainingJobStatus"] == "Completed"
    assert job["RoleArn"] == f"arn:aws:iam::{nimbus.account_id}:role/{ROLE_NAME}"
    assert job["HyperParameters"] == {"objective": "binary:logistic", "num_round": "20"}
    for describe, name in (
        (sagemaker.describe_endpoint, {"EndpointName": answer["endpoint"]}),
        (sagemaker.describe_endpoint_config, {"EndpointConfigName": answer["endpoint"]}),
        (sagemaker.describe_model, {"ModelName": answer["endpoint"]}),
    ):
        _assert_deleted(describe, name)
    trust = nimbus.client("iam").get_role(RoleName=ROLE_NAME)["Role"]["AssumeRolePolicyDocument"]
    assert trust["Statement"][0]["Principal"] == {"Service": "sagemaker.amazonaws.com"}


def _assert_deleted(describe: Any, name: dict[str, str]) -> None:
    with pytest.raises(ClientError) as caught:
        describe(**name)
    assert error_code(caught) == "ValidationException"
