"""Inference Recommender end to end: a real XGBoost model load-tested through InvokeEndpoint by jobs
created with boto3 and with the SageMaker Python SDK's ``right_size``, on a server whose instance
table has one price added by the user's file (NIMBUS_INSTANCE_TYPES)."""

from __future__ import annotations

import functools
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import botocore.config
import numpy as np
import pytest
import requests
import xgboost
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from botocore.exceptions import ClientError
from conftest import NimbusServer, error_code
from job_support import gz_archive, settled
from sklearn.datasets import load_breast_cancer

XGBOOST_IMAGE = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost:1.7-1"
# the user's own price for a type the shipped table has no price for
OVERRIDE_PRICE = 0.125
TRUST = {
    "Version": "2012-10-17",
    "Statement": [
        {"Effect": "Allow", "Principal": {"Service": "sagemaker.amazonaws.com"}, "Action": "sts:AssumeRole"}
    ],
}
INVOKE = {
    "Version": "2012-10-17",
    "Statement": [
        {"Effect": "Allow", "Action": "sagemaker:InvokeEndpoint", "Resource": "*"},
        # the model's data is read as the role, as AWS reads it
        {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::recommender/*"},
    ],
}
SHORT_STAIRS = {
    "TrafficType": "STAIRS",
    "Stairs": {"DurationInSeconds": 2, "NumberOfSteps": 3, "UsersPerStep": 1},
}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[NimbusServer]:
    folder = tmp_path_factory.mktemp("recommender")
    override = folder / "instance-types.json"
    override.write_text(
        json.dumps(
            {
                "sources": {
                    "mine": {
                        "package": "our contract price list",
                        "region": "us-east-1",
                        "date": "2026-12-01",
                    }
                },
                "types": {"ml.m5.large": {"price_per_hour": OVERRIDE_PRICE, "price_source": "mine"}},
            }
        )
    )
    (folder / "data").mkdir()
    server = NimbusServer(folder / "data", folder, settings={"NIMBUS_INSTANCE_TYPES": str(override)})
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def setup(server: NimbusServer) -> dict[str, str]:
    """A role SageMaker may assume and that may read the bucket and invoke endpoints, a model, and
    sample payloads."""
    iam = server.client("iam")
    role = iam.create_role(RoleName="RecommenderRole", AssumeRolePolicyDocument=json.dumps(TRUST))["Role"][
        "Arn"
    ]
    iam.put_role_policy(RoleName="RecommenderRole", PolicyName="invoke", PolicyDocument=json.dumps(INVOKE))
    features, labels = load_breast_cancer(return_X_y=True)
    booster = xgboost.train(
        {"objective": "binary:logistic", "max_depth": 3}, xgboost.DMatrix(features, label=labels), 20
    )
    s3 = server.client("s3")
    s3.create_bucket(Bucket="recommender")
    s3.put_object(
        Bucket="recommender",
        Key="model.tar.gz",
        Body=gz_archive({"xgboost-model": bytes(booster.save_raw("json"))}),
    )
    rows = {f"row-{i}.csv": ",".join(repr(float(v)) for v in features[i]).encode() for i in range(5)}
    training = "\n".join(
        ",".join(repr(float(v)) for v in (label, *row)) for label, row in zip(labels, features, strict=True)
    )
    s3.put_object(Bucket="recommender", Key="train/data.csv", Body=training.encode())
    s3.put_object(Bucket="recommender", Key="payloads.tar.gz", Body=gz_archive(rows))
    s3.put_object(
        Bucket="recommender", Key="broken.tar.gz", Body=gz_archive({"xgboost-model": b"not a booster"})
    )
    sagemaker = server.client("sagemaker")
    for name, key in (("xgb", "model.tar.gz"), ("broken", "broken.tar.gz")):
        sagemaker.create_model(
            ModelName=name,
            PrimaryContainer={"Image": XGBOOST_IMAGE, "ModelDataUrl": f"s3://recommender/{key}"},
            ExecutionRoleArn=role,
        )
    return {"role": role, "payloads": "s3://recommender/payloads.tar.gz"}


def _input(setup: dict[str, str], model: str = "xgb", **more: Any) -> dict[str, Any]:
    payload = {"SamplePayloadUrl": setup["payloads"], "SupportedContentTypes": ["text/csv"]}
    return {
        "ModelName": model,
        "ContainerConfig": {"Domain": "MACHINE_LEARNING", "PayloadConfig": payload},
        **more,
    }


def _wait(sagemaker: Any, name: str, timeout: float) -> dict[str, Any]:
    return settled(
        lambda: sagemaker.describe_inference_recommendations_job(JobName=name),
        "Status",
        ("PENDING", "IN_PROGRESS", "STOPPING"),
        timeout,
        every=0.5,
    )


def _report(server: NimbusServer, name: str) -> dict[str, Any]:
    """The job's report through Nimbus's extension, signed like any request."""
    url = f"{server.endpoint_url}/_nimbus/sagemaker/inference-recommendations/{name}"
    request = AWSRequest("GET", url)
    SigV4Auth(Credentials(server.access_key, server.secret_key), "sagemaker", server.region).add_auth(request)
    answer = requests.get(url, headers=dict(request.headers.items()), timeout=30)
    assert answer.status_code == 200, answer.text
    return dict(answer.json())


def test_advanced_job_measures_projects_and_prices(server: NimbusServer, setup: dict[str, str]) -> None:
    sagemaker = server.client("sagemaker")
    sagemaker.create_inference_recommendations_job(
        JobName="advanced",
        JobType="Advanced",
        RoleArn=setup["role"],
        InputConfig=_input(
            setup,
            TrafficPattern=SHORT_STAIRS,
            EndpointConfigurations=[
                {"InstanceType": "ml.m5.large"},
                {"InstanceType": "ml.c5.4xlarge"},
                {"InstanceType": "ml.g4dn.xlarge"},
            ],
        ),
        StoppingConditions={"ModelLatencyThresholds": [{"Percentile": "P95", "ValueInMilliseconds": 5000}]},
    )
    described = _wait(sagemaker, "advanced", 240)
    assert described["Status"] == "COMPLETED", described.get("FailureReason")
    by_type = {
        item["EndpointConfiguration"]["InstanceType"]: item for item in described["InferenceRecommendations"]
    }
    assert set(by_type) == {"ml.m5.large", "ml.c5.4xlarge"}
    for instance_type, price in (("ml.m5.large", OVERRIDE_PRICE), ("ml.c5.4xlarge", 0.816)):
        metrics = by_type[instance_type]["Metrics"]
        assert metrics["CostPerHour"] == pytest.approx(price)
        assert metrics["MaxInvocations"] > 0 and metrics["ModelLatency"] >= 0
        assert metrics["CostPerInference"] == pytest.approx(price / (metrics["MaxInvocations"] * 60))
        assert 0 < metrics["MemoryUtilization"] < 100 and metrics["CpuUtilization"] > 0
    # more vCPUs than this machine: projected from the cores measured here, never more than linear
    assert (
        by_type["ml.c5.4xlarge"]["Metrics"]["MaxInvocations"]
        >= by_type["ml.m5.large"]["Metrics"]["MaxInvocations"]
    )
    steps = {
        step["InferenceBenchmark"]["EndpointConfiguration"]["InstanceType"]: step
        for step in sagemaker.list_inference_recommendations_job_steps(JobName="advanced")["Steps"]
    }
    report = {item["InstanceType"]: item["Figures"] for item in _report(server, "advanced")["candidates"]}
    cores = len(os.sched_getaffinity(0))  # the server's, as it runs beside the tests
    if cores < 16:  # ml.c5.4xlarge has 16 vCPUs
        assert report["ml.c5.4xlarge"]["MaxInvocations"]["kind"] == "projected"
        low, high = report["ml.c5.4xlarge"]["MaxInvocations"]["range"]
        assert low <= report["ml.c5.4xlarge"]["MaxInvocations"]["value"] <= high
    if cores >= 2:  # ml.m5.large has 2
        assert report["ml.m5.large"]["MaxInvocations"]["kind"] == "measured"
    # ModelLatency is AWS's, the container's time inside each request's end-to-end time: every
    # percentile of it is below the same percentile of the open-loop latency of the same requests
    for figures in (report["ml.m5.large"], report["ml.c5.4xlarge"]):
        model, end_to_end = figures["ModelLatency"], figures["EndToEndLatency"]
        assert 0 < model["milliseconds"] < end_to_end["milliseconds"]
        assert "InvokeEndpoint" in model["basis"] and "intended send time" in end_to_end["basis"]
    assert by_type["ml.m5.large"]["Metrics"]["ModelLatency"] == report["ml.m5.large"]["ModelLatency"]["value"]
    assert "our contract price list" in report["ml.m5.large"]["CostPerHour"]["basis"]
    assert "fmbench" in report["ml.c5.4xlarge"]["CostPerHour"]["basis"]
    if not _report(server, "advanced")["machine"]["gpus"]:
        assert steps["ml.g4dn.xlarge"]["Status"] == "FAILED"
        assert "no GPU" in steps["ml.g4dn.xlarge"]["InferenceBenchmark"]["FailureReason"]
        assert report["ml.g4dn.xlarge"]["MaxInvocations"]["kind"] == "not measurable"
    model = sagemaker.describe_model(ModelName="xgb")["DeploymentRecommendation"]
    assert model["RecommendationStatus"] == "COMPLETED"
    assert (
        model["RealTimeInferenceRecommendations"][0]["InstanceType"]
        == (described["InferenceRecommendations"][0]["EndpointConfiguration"]["InstanceType"])
    )


def test_sdk_right_size_runs_a_default_job(server: NimbusServer, setup: dict[str, str]) -> None:
    import boto3
    from sagemaker.model import Model
    from sagemaker.session import Session

    boto = boto3.session.Session(
        aws_access_key_id=server.access_key,
        aws_secret_access_key=server.secret_key,
        region_name=server.region,
    )
    session = Session(
        boto_session=boto,
        sagemaker_client=server.client("sagemaker"),
        sagemaker_runtime_client=server.client("sagemaker-runtime"),
        default_bucket="recommender",
    )
    # the SDK polls every 120 s by default; the job takes well under a minute here
    waiting = session.wait_for_inference_recommendations_job
    session.wait_for_inference_recommendations_job = functools.partial(waiting, poll=1)  # type: ignore[method-assign]
    model = Model(
        image_uri=XGBOOST_IMAGE,
        model_data="s3://recommender/model.tar.gz",
        role=setup["role"],
        sagemaker_session=session,
    )
    model.right_size(
        sample_payload_url=setup["payloads"],
        supported_content_types=["text/csv"],
        supported_instance_types=["ml.m5.large"],
        job_name="sdk-default",
        framework="XGBOOST",
        # bounds the load test (no new step starts after it): the SDK's path is what this proves;
        # the Default search itself is tests/unit/test_recommender_traffic.py's and the bench's
        job_duration_in_seconds=15,
        log_level="Quiet",
    )
    [recommendation] = model.inference_recommendations
    assert recommendation["EndpointConfiguration"]["InstanceType"] == "ml.m5.large"
    assert recommendation["Metrics"]["CostPerHour"] == pytest.approx(OVERRIDE_PRICE)
    listed = server.client("sagemaker").list_inference_recommendations_jobs(ModelNameEquals=model.name)
    assert [job["JobName"] for job in listed["InferenceRecommendationsJobs"]] == ["sdk-default"]
    assert listed["InferenceRecommendationsJobs"][0]["Status"] == "COMPLETED"
    assert listed["InferenceRecommendationsJobs"][0]["JobType"] == "Default"


def test_a_failing_model_fails_the_job_with_its_own_error(
    server: NimbusServer, setup: dict[str, str]
) -> None:
    sagemaker = server.client("sagemaker")
    sagemaker.create_inference_recommendations_job(
        JobName="broken", JobType="Default", RoleArn=setup["role"], InputConfig=_input(setup, "broken")
    )
    described = _wait(sagemaker, "broken", 120)  # a bound, not a check: bench/recommender_bench.py times it
    assert described["Status"] == "FAILED"
    assert "XGBoostError" in described["FailureReason"] or "xgboost" in described["FailureReason"].lower()
    assert "model server did not start" in described["FailureReason"]
    with pytest.raises(ClientError) as stopped:
        sagemaker.stop_inference_recommendations_job(JobName="broken")
    assert error_code(stopped) == "ValidationException"


def test_limits_and_errors(server: NimbusServer, setup: dict[str, str]) -> None:
    unchecked = server.client("sagemaker", config=botocore.config.Config(parameter_validation=False))
    eleven = [{"InstanceType": "ml.m5.large"}] * 11
    cases = [
        _input(setup, EndpointConfigurations=eleven),
        _input(
            setup,
            TrafficPattern={
                "TrafficType": "STAIRS",
                "Stairs": {"DurationInSeconds": 1, "NumberOfSteps": 1, "UsersPerStep": 4},
            },
        ),
        _input(setup, "no-such-model"),
        _input(
            setup,
            EndpointConfigurations=[{"ServerlessConfig": {"MemorySizeInMB": 2048, "MaxConcurrency": 1}}],
        ),
    ]
    for index, config in enumerate(cases):
        with pytest.raises(ClientError) as refused:
            unchecked.create_inference_recommendations_job(
                JobName=f"bad-{index}", JobType="Advanced", RoleArn=setup["role"], InputConfig=config
            )
        assert error_code(refused) == "ValidationException", config
    listed = unchecked.list_inference_recommendations_jobs(NameContains="bad-")
    assert listed["InferenceRecommendationsJobs"] == []  # nothing was stored
    with pytest.raises(ClientError) as missing:
        unchecked.describe_inference_recommendations_job(JobName="never-created")
    assert error_code(missing) == "ResourceNotFound"
    create = functools.partial(
        unchecked.create_inference_recommendations_job,
        JobName="twice",
        JobType="Default",
        RoleArn=setup["role"],
        InputConfig=_input(setup, "broken"),
    )
    create()
    with pytest.raises(ClientError) as taken:
        create()
    assert error_code(taken) == "ResourceInUse"


def test_training_advice_from_the_cli(server: NimbusServer, setup: dict[str, str], tmp_path: Path) -> None:
    job = {
        "TrainingJobName": "advised",
        "AlgorithmSpecification": {"TrainingImage": XGBOOST_IMAGE, "TrainingInputMode": "File"},
        "RoleArn": setup["role"],
        "HyperParameters": {"objective": "binary:logistic", "num_round": "200", "max_depth": "4"},
        "InputDataConfig": [
            {
                "ChannelName": "train",
                "ContentType": "text/csv",
                "DataSource": {
                    "S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": "s3://recommender/train/"}
                },
            }
        ],
        "OutputDataConfig": {"S3OutputPath": "s3://recommender/output/"},
        "ResourceConfig": {"InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 1},
        "StoppingCondition": {"MaxRuntimeInSeconds": 600},
    }
    definition = tmp_path / "job.json"
    definition.write_text(json.dumps(job))
    types = "--instance-types=ml.m5.large,ml.c5.4xlarge,ml.g4dn.xlarge"
    advised = _advise(server, "training", str(definition), types, "--json")
    assert advised.returncode == 0, advised.stderr
    answer = json.loads(advised.stdout)
    by_type = {item["InstanceType"]: item for item in answer["Candidates"]}
    assert by_type["ml.m5.large"]["TrainingSeconds"]["kind"] == "measured"
    assert by_type["ml.c5.4xlarge"]["TrainingSeconds"]["kind"] == "projected"
    seconds = by_type["ml.c5.4xlarge"]["TrainingSeconds"]["value"]
    assert by_type["ml.c5.4xlarge"]["Cost"]["value"] == pytest.approx(seconds / 3600 * 0.816)
    assert answer["Cheapest"] in by_type and answer["Fastest"] in by_type
    if not answer["Machine"]["gpus"]:
        assert by_type["ml.g4dn.xlarge"]["TrainingSeconds"]["kind"] == "not measurable"
    job["HyperParameters"].pop("num_round")
    definition.write_text(json.dumps(job))
    refused = _advise(server, "training", str(definition))
    assert refused.returncode == 1 and "num_round" in refused.stderr


def _advise(server: NimbusServer, *args: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "nimbus", "advise", *args]
    return subprocess.run(command, env=server.env(), capture_output=True, text=True, timeout=300, check=False)


def test_instance_table_cites_every_price() -> None:
    table = json.loads(Path(__file__).parents[2].joinpath("nimbus/services/instance_types.json").read_text())
    for name, row in table["types"].items():
        if row["price_per_hour"] is not None:
            source = table["sources"][row["price_source"]]
            assert source["region"] and source["date"] and source["package"], name
    assert np.isclose(table["types"]["ml.g4dn.xlarge"]["gpu_memory_gib"], 16)
