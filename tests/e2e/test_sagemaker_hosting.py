"""SageMaker hosting end to end: a real XGBoost booster behind an endpoint of two worker processes,
invoked through boto3's sagemaker-runtime client."""

from __future__ import annotations

import io
import os
import signal
import tarfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import xgboost
from botocore.exceptions import ClientError
from conftest import NimbusServer, error_code, http_status
from job_support import settled
from roles import execution_role
from sklearn.datasets import load_breast_cancer

XGBOOST_IMAGE = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost:1.7-1"
SIX_MB = 6 * 1024 * 1024


@pytest.fixture(scope="module")
def booster(tmp_path_factory: pytest.TempPathFactory) -> tuple[xgboost.Booster, np.ndarray, bytes]:
    """A booster trained here, the rows to score, and its model.tar.gz."""
    features, labels = load_breast_cancer(return_X_y=True)
    trained = xgboost.train(
        {"objective": "binary:logistic", "max_depth": 3},
        xgboost.DMatrix(features, label=labels),
        num_boost_round=20,
    )
    model_dir = tmp_path_factory.mktemp("model")
    trained.save_model(str(model_dir / "xgboost-model"))
    archive = io.BytesIO()
    with tarfile.open(fileobj=archive, mode="w:gz") as tar:
        tar.add(model_dir / "xgboost-model", arcname="xgboost-model")
    return trained, features[:25].astype(np.float32), archive.getvalue()


def _wait(sagemaker: Any, name: str, timeout: float = 60.0) -> dict[str, Any]:
    return settled(
        lambda: sagemaker.describe_endpoint(EndpointName=name),
        "EndpointStatus",
        ("Creating", "Updating"),
        timeout,
        every=0.2,
    )


def _deploy(sagemaker: Any, s3: Any, bucket: str, archive: bytes, instances: int) -> str:
    suffix = uuid.uuid4().hex[:8]
    s3.put_object(Bucket=bucket, Key=f"{suffix}/model.tar.gz", Body=archive)
    sagemaker.create_model(
        ModelName=f"xgb-{suffix}",
        PrimaryContainer={"Image": XGBOOST_IMAGE, "ModelDataUrl": f"s3://{bucket}/{suffix}/model.tar.gz"},
        ExecutionRoleArn=execution_role(sagemaker),
    )
    sagemaker.create_endpoint_config(
        EndpointConfigName=f"cfg-{suffix}",
        ProductionVariants=[
            {
                "VariantName": "AllTraffic",
                "ModelName": f"xgb-{suffix}",
                "InitialInstanceCount": instances,
                "InstanceType": "ml.m5.large",
                "InitialVariantWeight": 1.0,
            }
        ],
    )
    sagemaker.create_endpoint(EndpointName=f"ep-{suffix}", EndpointConfigName=f"cfg-{suffix}")
    return f"ep-{suffix}"


@pytest.fixture(scope="module")
def endpoint(nimbus: NimbusServer, booster: Any) -> Iterator[str]:
    s3 = nimbus.client("s3")
    bucket = f"hosting-{uuid.uuid4().hex[:12]}"
    s3.create_bucket(Bucket=bucket)
    sagemaker = nimbus.client("sagemaker")
    name = _deploy(sagemaker, s3, bucket, booster[2], instances=2)
    described = _wait(sagemaker, name)
    assert described["EndpointStatus"] == "InService", described
    yield name


def _csv(rows: np.ndarray) -> bytes:
    return "\n".join(",".join(repr(float(v)) for v in row) for row in rows).encode()


def test_predictions_match_the_booster(nimbus: NimbusServer, endpoint: str, booster: Any) -> None:
    trained, rows, _ = booster
    runtime = nimbus.client("sagemaker-runtime")
    answer = runtime.invoke_endpoint(EndpointName=endpoint, ContentType="text/csv", Body=_csv(rows))
    predicted = np.array([float(line) for line in answer["Body"].read().decode().splitlines()])
    np.testing.assert_allclose(predicted, trained.predict(xgboost.DMatrix(rows)), atol=1e-6)
    assert answer["InvokedProductionVariant"] == "AllTraffic"
    assert answer["ContentType"] == "text/csv"


def test_describe_shows_two_instances(nimbus: NimbusServer, endpoint: str) -> None:
    variants = nimbus.client("sagemaker").describe_endpoint(EndpointName=endpoint)["ProductionVariants"]
    assert [(v["VariantName"], v["CurrentInstanceCount"], v["CurrentWeight"]) for v in variants] == [
        ("AllTraffic", 2, 1.0)
    ]


def test_models_and_configs_are_listed_and_deleted(nimbus: NimbusServer) -> None:
    sagemaker = nimbus.client("sagemaker")
    suffix = uuid.uuid4().hex[:8]
    container = {"Image": XGBOOST_IMAGE, "ModelDataUrl": "s3://nowhere/model.tar.gz"}
    for name in (f"list-a-{suffix}", f"list-b-{suffix}"):
        sagemaker.create_model(
            ModelName=name, PrimaryContainer=container, ExecutionRoleArn=execution_role(sagemaker)
        )
    variant = {"VariantName": "AllTraffic", "ModelName": f"list-a-{suffix}", "InitialInstanceCount": 1}
    sagemaker.create_endpoint_config(EndpointConfigName=f"list-cfg-{suffix}", ProductionVariants=[variant])

    ordered = {"NameContains": suffix, "SortBy": "Name", "SortOrder": "Ascending", "MaxResults": 1}
    first = sagemaker.list_models(**ordered)
    assert [model["ModelName"] for model in first["Models"]] == [f"list-a-{suffix}"]
    second = sagemaker.list_models(**ordered, NextToken=first["NextToken"])
    assert [model["ModelName"] for model in second["Models"]] == [f"list-b-{suffix}"]
    names = [m["ModelName"] for m in sagemaker.list_models(NameContains=suffix, SortBy="Name")["Models"]]
    assert sorted(names) == [f"list-a-{suffix}", f"list-b-{suffix}"]
    configs = sagemaker.list_endpoint_configs(NameContains=suffix)["EndpointConfigs"]
    assert [config["EndpointConfigName"] for config in configs] == [f"list-cfg-{suffix}"]
    assert configs[0]["EndpointConfigArn"].endswith(f":endpoint-config/list-cfg-{suffix}")

    sagemaker.delete_endpoint_config(EndpointConfigName=f"list-cfg-{suffix}")
    sagemaker.delete_model(ModelName=f"list-b-{suffix}")
    assert sagemaker.list_endpoint_configs(NameContains=suffix)["EndpointConfigs"] == []
    names = [m["ModelName"] for m in sagemaker.list_models(NameContains=suffix)["Models"]]
    assert names == [f"list-a-{suffix}"]
    with pytest.raises(ClientError):
        sagemaker.delete_model(ModelName=f"list-b-{suffix}")


def test_unknown_endpoint(nimbus: NimbusServer) -> None:
    with pytest.raises(ClientError) as caught:
        nimbus.client("sagemaker-runtime").invoke_endpoint(
            EndpointName="nope", ContentType="text/csv", Body=b"1"
        )
    assert error_code(caught) == "ValidationError"
    assert "Endpoint nope of account" in str(caught.value)


def test_payload_over_six_megabytes(nimbus: NimbusServer, endpoint: str) -> None:
    with pytest.raises(ClientError) as caught:
        nimbus.client("sagemaker-runtime").invoke_endpoint(
            EndpointName=endpoint, ContentType="text/csv", Body=b"1," * (SIX_MB // 2 + 1)
        )
    assert error_code(caught) == "ValidationError"


def test_malformed_csv_is_a_model_error(nimbus: NimbusServer, endpoint: str) -> None:
    with pytest.raises(ClientError) as caught:
        nimbus.client("sagemaker-runtime").invoke_endpoint(
            EndpointName=endpoint, ContentType="text/csv", Body=b"1.0,abc,\n2"
        )
    assert error_code(caught) == "ModelError"
    assert http_status(caught) == 424
    assert caught.value.response["OriginalStatusCode"] in (400, "400")


def test_failed_model_and_delete_stops_workers(nimbus: NimbusServer, booster: Any) -> None:
    s3, sagemaker = nimbus.client("s3"), nimbus.client("sagemaker")
    bucket = f"hosting-{uuid.uuid4().hex[:12]}"
    s3.create_bucket(Bucket=bucket)
    broken = _deploy(sagemaker, s3, bucket, b"not a tar.gz", instances=1)
    failed = _wait(sagemaker, broken)
    assert failed["EndpointStatus"] == "Failed"
    assert "tar.gz" in failed["FailureReason"]

    name = _deploy(sagemaker, s3, bucket, booster[2], instances=1)
    assert _wait(sagemaker, name)["EndpointStatus"] == "InService"
    pids = _worker_pids(nimbus.data_dir / "sagemaker", name)
    assert pids
    sagemaker.delete_endpoint(EndpointName=name)
    assert not any(_alive(pid) for pid in pids)
    with pytest.raises(ClientError) as caught:
        sagemaker.describe_endpoint(EndpointName=name)
    assert error_code(caught) == "ValidationException"


def _worker_pids(root: Path, endpoint: str) -> list[int]:
    """PIDs of the live model servers whose model directory belongs to this endpoint."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                command = (entry / "cmdline").read_bytes().decode(errors="replace")
            except OSError:
                continue
            if (
                "nimbus.engines.learn.serving" in command
                and str(root) in command
                and f"/{endpoint}/" in command
            ):
                found.append(int(entry.name))
    return found


def _sandboxes(root: Path, endpoint: str) -> list[int]:
    """The outer process of each live worker sandbox (the one Nimbus started) of the endpoint."""
    pids = [pid for pid in _worker_pids(root, endpoint) if _alive(pid)]
    return [pid for pid in pids if _parent(pid) not in pids]


def _parent(pid: int) -> int:
    try:
        return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
    except (OSError, IndexError, ValueError):
        return 0


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().split()[2]
    except OSError:
        return False
    return state != "Z" and os.path.exists(f"/proc/{pid}")


def test_endpoint_serves_again_after_restart(
    nimbus: NimbusServer, endpoint: str, booster: Any, restart_server: Any
) -> None:
    trained, rows, _ = booster
    restart_server()
    # the endpoint's workers come back at start, before any request asks for them
    deadline = time.monotonic() + 60
    while len(_sandboxes(nimbus.data_dir / "sagemaker", endpoint)) < 2:
        assert time.monotonic() < deadline, "the endpoint's workers did not come back"
        time.sleep(0.2)
    assert (
        nimbus.client("sagemaker").describe_endpoint(EndpointName=endpoint)["EndpointStatus"] == "InService"
    )
    runtime = nimbus.client("sagemaker-runtime")
    answer = runtime.invoke_endpoint(EndpointName=endpoint, ContentType="text/csv", Body=_csv(rows[:3]))
    predicted = np.array([float(line) for line in answer["Body"].read().decode().splitlines()])
    np.testing.assert_allclose(predicted, trained.predict(xgboost.DMatrix(rows[:3])), atol=1e-6)


def test_a_worker_that_dies_is_restarted_and_logged(nimbus: NimbusServer, booster: Any) -> None:
    trained, rows, archive = booster
    s3, sagemaker = nimbus.client("s3"), nimbus.client("sagemaker")
    bucket = f"hosting-{uuid.uuid4().hex[:12]}"
    s3.create_bucket(Bucket=bucket)
    name = _deploy(sagemaker, s3, bucket, archive, instances=1)
    assert _wait(sagemaker, name)["EndpointStatus"] == "InService"
    for pid in _worker_pids(nimbus.data_dir / "sagemaker", name):
        os.kill(pid, signal.SIGKILL)
    answer = nimbus.client("sagemaker-runtime").invoke_endpoint(
        EndpointName=name, ContentType="text/csv", Body=_csv(rows[:3])
    )
    predicted = np.array([float(line) for line in answer["Body"].read().decode().splitlines()])
    np.testing.assert_allclose(predicted, trained.predict(xgboost.DMatrix(rows[:3])), atol=1e-6)
    events = nimbus.client("logs").filter_log_events(logGroupName=f"/aws/sagemaker/Endpoints/{name}")[
        "events"
    ]
    assert any(
        event["logStreamName"] == "AllTraffic/instance-0" and "exited with status -9" in event["message"]
        for event in events
    )
    sagemaker.delete_endpoint(EndpointName=name)


def test_weights_and_capacities_change_without_a_new_config(nimbus: NimbusServer, booster: Any) -> None:
    _, rows, archive = booster
    s3, sagemaker = nimbus.client("s3"), nimbus.client("sagemaker")
    runtime = nimbus.client("sagemaker-runtime")
    bucket = f"hosting-{uuid.uuid4().hex[:12]}"
    s3.create_bucket(Bucket=bucket)
    name = _deploy(sagemaker, s3, bucket, archive, instances=1)
    assert _wait(sagemaker, name)["EndpointStatus"] == "InService"
    config = sagemaker.describe_endpoint(EndpointName=name)["EndpointConfigName"]
    model = sagemaker.describe_endpoint_config(EndpointConfigName=config)["ProductionVariants"][0][
        "ModelName"
    ]
    variants = [
        {"VariantName": variant, "ModelName": model, "InitialInstanceCount": 1, "InstanceType": "ml.m5.large"}
        for variant in ("Blue", "Green")
    ]
    sagemaker.create_endpoint_config(
        EndpointConfigName=f"{config}-bg",
        ProductionVariants=[
            {**variants[0], "InitialVariantWeight": 1.0},
            {**variants[1], "InitialVariantWeight": 0.0},
        ],
    )
    sagemaker.update_endpoint(EndpointName=name, EndpointConfigName=f"{config}-bg")
    assert _wait(sagemaker, name)["EndpointStatus"] == "InService"

    sagemaker.update_endpoint_weights_and_capacities(
        EndpointName=name,
        DesiredWeightsAndCapacities=[
            {"VariantName": "Blue", "DesiredWeight": 0.0},
            {"VariantName": "Green", "DesiredWeight": 1.0, "DesiredInstanceCount": 2},
        ],
    )
    with pytest.raises(ClientError) as caught:  # still adding Green's second instance
        sagemaker.update_endpoint_weights_and_capacities(
            EndpointName=name, DesiredWeightsAndCapacities=[{"VariantName": "Blue", "DesiredWeight": 1.0}]
        )
    assert error_code(caught) == "ValidationException"
    described = _wait(sagemaker, name)
    assert described["EndpointStatus"] == "InService"
    now = {variant["VariantName"]: variant for variant in described["ProductionVariants"]}
    assert (now["Green"]["CurrentWeight"], now["Green"]["CurrentInstanceCount"]) == (1.0, 2)
    assert (now["Blue"]["CurrentWeight"], now["Blue"]["CurrentInstanceCount"]) == (0.0, 1)
    assert len(_sandboxes(nimbus.data_dir / "sagemaker", name)) == 3
    for _ in range(10):
        answer = runtime.invoke_endpoint(EndpointName=name, ContentType="text/csv", Body=_csv(rows[:2]))
        assert answer["InvokedProductionVariant"] == "Green"
    blue = runtime.invoke_endpoint(
        EndpointName=name, ContentType="text/csv", Body=_csv(rows[:2]), TargetVariant="Blue"
    )
    assert blue["InvokedProductionVariant"] == "Blue"

    with pytest.raises(ClientError) as caught:
        sagemaker.update_endpoint_weights_and_capacities(
            EndpointName=name, DesiredWeightsAndCapacities=[{"VariantName": "Red", "DesiredWeight": 1.0}]
        )
    assert error_code(caught) == "ValidationException"
    assert "Red" in caught.value.response["Error"]["Message"]
    sagemaker.delete_endpoint(EndpointName=name)
