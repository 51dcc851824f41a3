"""Hyperparameter tuning: the SageMaker Python SDK v2's HyperparameterTuner searches the built-in
XGBoost's hyperparameters with real training jobs and deploys the best one; Hyperband stops weak
script-mode jobs early; warm start; what SageMaker refuses is refused."""

from __future__ import annotations

import json
import textwrap
import uuid
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import sagemaker
from botocore.exceptions import ClientError
from conftest import NimbusServer, error_code
from job_support import gz_archive, settled
from roles import execution_role
from sagemaker.estimator import Estimator
from sagemaker.inputs import TrainingInput
from sagemaker.serializers import CSVSerializer
from sagemaker.tuner import CategoricalParameter, ContinuousParameter, HyperparameterTuner, IntegerParameter
from sagemaker_sdk_support import notebook_session, role
from sklearn.datasets import load_breast_cancer
from sklearn.model_selection import train_test_split

XGBOOST = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost:1.7-1"
SKLEARN = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-scikit-learn:1.2-1-cpu-py3"
# one line per epoch; a larger learning rate's loss falls faster (epochs slow enough to be seen running)
EPOCHS_SCRIPT = """
import argparse, time
parser = argparse.ArgumentParser()
parser.add_argument("--lr", type=float)
parser.add_argument("--epochs", type=int)
args = parser.parse_args()
for epoch in range(1, args.epochs + 1):
    time.sleep(0.3)
    print(f"epoch={epoch} loss={1.0 / (1.0 + args.lr * epoch):.5f}", flush=True)
open("/opt/ml/model/model.txt", "w").write(str(args.lr))
"""


@pytest.fixture
def session(nimbus: NimbusServer, monkeypatch: pytest.MonkeyPatch) -> Any:
    return notebook_session(nimbus, monkeypatch)


def test_tuner_finds_a_better_job_and_deploys_it(session: Any, tmp_path: Path) -> None:
    features, labels = load_breast_cancer(return_X_y=True)
    train_x, test_x, train_y, test_y = train_test_split(features, labels, test_size=0.3, random_state=0)
    uris = {}
    for channel, x, y in (("train", train_x, train_y), ("validation", test_x, test_y)):
        path = tmp_path / f"{channel}.csv"
        np.savetxt(path, np.column_stack([y, x]), delimiter=",", fmt="%.10g")
        uris[channel] = TrainingInput(
            session.upload_data(str(path), key_prefix=f"tuning/{channel}"), content_type="text/csv"
        )
    estimator = Estimator(
        image_uri=sagemaker.image_uris.retrieve("xgboost", "us-east-1", "1.7-1"),
        role=role(session),
        instance_count=1,
        instance_type="ml.m5.large",
        output_path=f"s3://{session.default_bucket()}/tuning/output",
        hyperparameters={"objective": "binary:logistic", "num_round": 20},
        sagemaker_session=session,
    )
    tuner = HyperparameterTuner(
        estimator,
        objective_metric_name="validation:logloss",
        objective_type="Minimize",
        hyperparameter_ranges={
            "eta": ContinuousParameter(0.001, 0.5, scaling_type="Logarithmic"),
            "max_depth": IntegerParameter(1, 6),
            "grow_policy": CategoricalParameter(["depthwise", "lossguide"]),
        },
        strategy="Bayesian",
        max_jobs=4,
        max_parallel_jobs=2,
    )
    tuner.fit(uris, wait=True)

    client = session.sagemaker_client
    name = tuner.latest_tuning_job.name
    job = client.describe_hyper_parameter_tuning_job(HyperParameterTuningJobName=name)
    assert job["HyperParameterTuningJobStatus"] == "Completed"
    assert job["TrainingJobStatusCounters"]["Completed"] == 4
    assert job["ObjectiveStatusCounters"] == {"Succeeded": 4, "Pending": 0, "Failed": 0}
    summaries = client.list_training_jobs_for_hyper_parameter_tuning_job(
        HyperParameterTuningJobName=name, SortBy="FinalObjectiveMetricValue", SortOrder="Ascending"
    )["TrainingJobSummaries"]
    values = [s["FinalHyperParameterTuningJobObjectiveMetric"]["Value"] for s in summaries]
    assert values == sorted(values) and len(values) == 4
    best = job["BestTrainingJob"]
    assert best["TrainingJobName"] == summaries[0]["TrainingJobName"]
    assert best["FinalHyperParameterTuningJobObjectiveMetric"]["Value"] < values[-1]  # better than the worst
    assert 0.001 <= float(best["TunedHyperParameters"]["eta"]) <= 0.5
    assert best["TunedHyperParameters"]["grow_policy"] in ("depthwise", "lossguide")
    trained = client.describe_training_job(TrainingJobName=best["TrainingJobName"])
    assert trained["TuningJobArn"] == job["HyperParameterTuningJobArn"]
    assert trained["HyperParameters"]["_tuning_objective_metric"] == "validation:logloss"
    # the objective is the last validation-logloss the job printed
    logged = [m for m in trained["FinalMetricDataList"] if m["MetricName"] == "validation:logloss"]
    assert logged[0]["Value"] == best["FinalHyperParameterTuningJobObjectiveMetric"]["Value"]

    predictor = tuner.deploy(
        initial_instance_count=1, instance_type="ml.m5.large", serializer=CSVSerializer()
    )
    try:
        answer = predictor.predict(test_x)
    finally:
        predictor.delete_model()
        predictor.delete_endpoint()
    predicted = np.array([float(line) for line in answer.decode().splitlines()])
    assert ((predicted > 0.5) == test_y).mean() > 0.9


def _script_tuning_request(
    sagemaker: Any, bucket: str, name: str, strategy: str, **config: Any
) -> dict[str, Any]:
    return {
        "HyperParameterTuningJobName": name,
        "HyperParameterTuningJobConfig": {
            "Strategy": strategy,
            "HyperParameterTuningJobObjective": {"Type": "Minimize", "MetricName": "loss"},
            "ResourceLimits": {"MaxNumberOfTrainingJobs": 6, "MaxParallelTrainingJobs": 2},
            "ParameterRanges": {
                "ContinuousParameterRanges": [
                    {"Name": "lr", "MinValue": "0.01", "MaxValue": "10", "ScalingType": "Logarithmic"}
                ]
            },
            **config,
        },
        "TrainingJobDefinition": {
            "StaticHyperParameters": {
                "epochs": "8",
                "sagemaker_program": json.dumps("train.py"),
                "sagemaker_submit_directory": json.dumps(f"s3://{bucket}/code/sourcedir.tar.gz"),
            },
            "AlgorithmSpecification": {
                "TrainingImage": SKLEARN,
                "TrainingInputMode": "File",
                "MetricDefinitions": [{"Name": "loss", "Regex": r"loss=([0-9.]+)"}],
            },
            "RoleArn": execution_role(sagemaker),
            "OutputDataConfig": {"S3OutputPath": f"s3://{bucket}/output"},
            "ResourceConfig": {"InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 5},
            "StoppingCondition": {"MaxRuntimeInSeconds": 300},
        },
    }


def _wait(client: Any, name: str) -> dict[str, Any]:
    return settled(
        lambda: client.describe_hyper_parameter_tuning_job(HyperParameterTuningJobName=name),
        "HyperParameterTuningJobStatus",
        ("InProgress", "Stopping"),
        300,
        every=0.5,
    )


def test_hyperband_stops_weak_jobs_and_warm_start_builds_on_it(nimbus: NimbusServer, bucket: str) -> None:
    client = nimbus.client("sagemaker")
    nimbus.client("s3").put_object(
        Bucket=bucket,
        Key="code/sourcedir.tar.gz",
        Body=gz_archive({"train.py": textwrap.dedent(EPOCHS_SCRIPT).encode()}),
    )
    parent = f"hb-{uuid.uuid4().hex[:8]}"
    client.create_hyper_parameter_tuning_job(
        **_script_tuning_request(
            client,
            bucket,
            parent,
            "Hyperband",
            RandomSeed=7,
            StrategyConfig={"HyperbandStrategyConfig": {"MinResource": 1, "MaxResource": 8}},
        )
    )
    job = _wait(client, parent)
    assert job["HyperParameterTuningJobStatus"] == "Completed"
    counters = job["TrainingJobStatusCounters"]
    assert counters["Stopped"] >= 1 and counters["Completed"] >= 1  # weak jobs stopped early
    assert counters["Completed"] + counters["Stopped"] == 6
    summaries = client.list_training_jobs_for_hyper_parameter_tuning_job(
        HyperParameterTuningJobName=parent, MaxResults=100
    )["TrainingJobSummaries"]
    stopped = [s for s in summaries if s["TrainingJobStatus"] == "Stopped"]
    completed = [s for s in summaries if s["TrainingJobStatus"] == "Completed"]
    best_completed = min(s["FinalHyperParameterTuningJobObjectiveMetric"]["Value"] for s in completed)
    assert job["BestTrainingJob"]["FinalHyperParameterTuningJobObjectiveMetric"]["Value"] == best_completed
    # a stopped job printed fewer epochs than the 8 of a completed one
    events = nimbus.client("logs").filter_log_events(
        logGroupName="/aws/sagemaker/TrainingJobs", logStreamNamePrefix=stopped[0]["TrainingJobName"]
    )["events"]
    assert 1 <= sum("loss=" in e["message"] for e in events) < 8

    child = f"ws-{uuid.uuid4().hex[:8]}"
    request = _script_tuning_request(client, bucket, child, "Bayesian")
    request["HyperParameterTuningJobConfig"]["ResourceLimits"]["MaxNumberOfTrainingJobs"] = 2
    request["WarmStartConfig"] = {
        "ParentHyperParameterTuningJobs": [{"HyperParameterTuningJobName": parent}],
        "WarmStartType": "IdenticalDataAndAlgorithm",
    }
    client.create_hyper_parameter_tuning_job(**request)
    warm = _wait(client, child)
    assert warm["TrainingJobStatusCounters"]["Completed"] == 2
    overall = warm["OverallBestTrainingJob"]["FinalHyperParameterTuningJobObjectiveMetric"]["Value"]
    assert overall <= best_completed
    assert overall <= warm["BestTrainingJob"]["FinalHyperParameterTuningJobObjectiveMetric"]["Value"]


def test_what_sagemaker_refuses_is_refused_and_nothing_is_stored(nimbus: NimbusServer, bucket: str) -> None:
    client = nimbus.client("sagemaker")
    name = f"bad-{uuid.uuid4().hex[:8]}"
    cases = [
        ("Hyperband", {"TrainingJobEarlyStoppingType": "Auto"}, "must be Off with Hyperband"),
        ("Grid", {}, "categorical ranges only"),
        ("Random", {"HyperParameterTuningJobObjective": {"Type": "Minimize", "MetricName": "acc"}}, "acc"),
    ]
    for strategy, config, message in cases:
        with pytest.raises(ClientError) as caught:
            client.create_hyper_parameter_tuning_job(
                **_script_tuning_request(client, bucket, name, strategy, **config)
            )
        assert error_code(caught) == "ValidationException"
        assert message in str(caught.value)
    reverse = _script_tuning_request(client, bucket, name, "Random")
    reverse["HyperParameterTuningJobConfig"]["ParameterRanges"]["ContinuousParameterRanges"][0][
        "ScalingType"
    ] = "ReverseLogarithmic"
    with pytest.raises(ClientError) as caught:
        client.create_hyper_parameter_tuning_job(**reverse)
    assert "0 <= x < 1" in str(caught.value)
    with pytest.raises(ClientError) as caught:
        client.describe_hyper_parameter_tuning_job(HyperParameterTuningJobName=name)
    assert error_code(caught) == "ResourceNotFound"
    listed = client.list_hyper_parameter_tuning_jobs(NameContains=name)["HyperParameterTuningJobSummaries"]
    assert listed == []
