"""The built-in Linear Learner and K-Means algorithms through boto3: RecordIO-protobuf training data,
CreateTrainingJob, an endpoint, InvokeEndpoint; the results match scikit-learn's own models."""

from __future__ import annotations

import io
import json
import time
import uuid
from typing import Any

import numpy as np
import pytest
from conftest import NimbusServer
from roles import execution_role
from sklearn.cluster import KMeans
from sklearn.datasets import load_breast_cancer, make_blobs
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import adjusted_rand_score
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler

from nimbus.engines.learn import recordio

REGISTRY = "382416733822.dkr.ecr.us-east-1.amazonaws.com"
RECORDIO = "application/x-recordio-protobuf"


@pytest.fixture(scope="module")
def bucket(nimbus: NimbusServer) -> str:
    name = f"builtin-{uuid.uuid4().hex[:12]}"
    nimbus.client("s3").create_bucket(Bucket=name)
    return name


def train_and_deploy(
    nimbus: NimbusServer, bucket: str, algorithm: str, data: bytes, hyperparameters: dict
) -> dict:
    """Trains on ``data`` (RecordIO-protobuf), waits, deploys the model: the job and endpoint name."""
    s3, sagemaker = nimbus.client("s3"), nimbus.client("sagemaker")
    name = f"{algorithm}-{uuid.uuid4().hex[:8]}"
    s3.put_object(Bucket=bucket, Key=f"{name}/train/data.rec", Body=data)
    sagemaker.create_training_job(
        TrainingJobName=name,
        AlgorithmSpecification={"TrainingImage": f"{REGISTRY}/{algorithm}:1", "TrainingInputMode": "File"},
        RoleArn=execution_role(sagemaker),
        HyperParameters=hyperparameters,
        InputDataConfig=[
            {
                "ChannelName": "train",
                "ContentType": RECORDIO,
                "DataSource": {
                    "S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": f"s3://{bucket}/{name}/train"}
                },
            }
        ],
        OutputDataConfig={"S3OutputPath": f"s3://{bucket}/output"},
        ResourceConfig={"InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 5},
        StoppingCondition={"MaxRuntimeInSeconds": 300},
    )
    job = _until(
        lambda: sagemaker.describe_training_job(TrainingJobName=name), "TrainingJobStatus", "InProgress"
    )
    assert job["TrainingJobStatus"] == "Completed", job.get("FailureReason")
    sagemaker.create_model(
        ModelName=name,
        PrimaryContainer={
            "Image": f"{REGISTRY}/{algorithm}:1",
            "ModelDataUrl": job["ModelArtifacts"]["S3ModelArtifacts"],
        },
        ExecutionRoleArn=execution_role(sagemaker),
    )
    variant = {
        "VariantName": "AllTraffic",
        "ModelName": name,
        "InitialInstanceCount": 1,
        "InstanceType": "ml.m5.large",
    }
    sagemaker.create_endpoint_config(EndpointConfigName=name, ProductionVariants=[variant])
    sagemaker.create_endpoint(EndpointName=name, EndpointConfigName=name)
    endpoint = _until(lambda: sagemaker.describe_endpoint(EndpointName=name), "EndpointStatus", "Creating")
    assert endpoint["EndpointStatus"] == "InService", endpoint.get("FailureReason")
    return job


def _until(describe: Any, status: str, busy: str, timeout: float = 60.0) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        described = describe()
        if described[status] not in (busy, "Stopping"):
            return described
        time.sleep(0.3)
    raise AssertionError(f"still {described[status]} after {timeout} s")


def invoke(
    nimbus: NimbusServer, name: str, body: bytes, content_type: str, accept: str = "application/json"
) -> Any:
    answer = nimbus.client("sagemaker-runtime").invoke_endpoint(
        EndpointName=name, ContentType=content_type, Accept=accept, Body=body
    )
    assert answer["ContentType"] == accept
    return answer["Body"].read()


def test_recordio_round_trip_with_int_labels_and_sparse_rows() -> None:
    rows = np.array([[1.5, -2.0, 0.0], [3.0, 4.25, -1.0]], dtype=np.float32)
    data = recordio.write_dense(rows, np.array([0.0, 1.0]))
    assert data[:4] == b"\x0a\x23\xd7\xce" and len(data) % 4 == 0
    features, labels = recordio.read_dense(data)
    np.testing.assert_array_equal(features, rows)
    np.testing.assert_array_equal(labels, [0.0, 1.0])
    # int32_tensor label 7 (packed varint) and a sparse float32 feature: keys [2], shape [3]
    sparse = b"\x0a\x04\x00\x00\x80\x3f" + b"\x12\x01\x02" + b"\x1a\x01\x03"
    feature = b"\x0a\x06values" + b"\x12" + bytes([len(sparse) + 2]) + b"\x12" + bytes([len(sparse)]) + sparse
    label = b"\x0a\x06values\x12\x05\x3a\x03\x0a\x01\x07"
    record = b"\x0a" + bytes([len(feature)]) + feature + b"\x12" + bytes([len(label)]) + label
    features, labels = recordio.read_dense(recordio.frame(record))
    np.testing.assert_array_equal(features, [[0.0, 0.0, 1.0]])
    np.testing.assert_array_equal(labels, [7.0])
    with pytest.raises(recordio.RecordIOError):
        recordio.read_dense(b"\x00" * 8)


def test_reader_reads_the_sagemaker_sdk_writer() -> None:
    from sagemaker.amazon import common

    rows = np.random.default_rng(0).normal(size=(5, 4)).astype(np.float32)
    buffer = io.BytesIO()
    common.write_numpy_to_dense_tensor(buffer, rows, np.arange(5))
    features, labels = recordio.read_dense(buffer.getvalue())
    np.testing.assert_array_equal(features, rows)
    np.testing.assert_array_equal(labels, np.arange(5))


def test_linear_learner_matches_scikit_learn_logistic_regression(nimbus: NimbusServer, bucket: str) -> None:
    features, labels = load_breast_cancer(return_X_y=True)
    train_x, test_x, train_y, test_y = train_test_split(features, labels, test_size=0.25, random_state=0)
    train_x = train_x.astype(np.float32).astype(np.float64)  # what the float32 records hold
    test_x = test_x.astype(np.float32).astype(np.float64)
    params = {"predictor_type": "binary_classifier", "feature_dim": "30", "epochs": "10", "wd": "0.001"}
    job = train_and_deploy(nimbus, bucket, "linear-learner", recordio.write_dense(train_x, train_y), params)
    metrics = {m["MetricName"]: m["Value"] for m in job["FinalMetricDataList"]}
    assert metrics["train:binary_classification_accuracy"] > 0.95
    assert "train:objective_loss" in metrics

    # the same objective: mean log loss + wd / 2 * |w|^2 on standardized features
    scaler = StandardScaler().fit(train_x)
    direct = LogisticRegression(C=1 / (len(train_y) * 0.001), max_iter=2000).fit(
        scaler.transform(train_x), train_y
    )
    expected = direct.predict_proba(scaler.transform(test_x))[:, 1]

    csv = "\n".join(",".join(repr(float(v)) for v in row) for row in test_x).encode()
    for body, content_type in ((csv, "text/csv"), (recordio.write_dense(test_x), RECORDIO)):
        predictions = json.loads(invoke(nimbus, job["TrainingJobName"], body, content_type))["predictions"]
        scores = np.array([p["score"] for p in predictions])
        np.testing.assert_allclose(scores, expected, atol=2e-3)  # float32 records, solver tolerance
        assert [p["predicted_label"] for p in predictions] == (scores > 0.5).astype(int).tolist()
        assert np.mean(np.array([p["predicted_label"] for p in predictions]) == test_y) > 0.9

    instances = json.dumps({"instances": [{"features": test_x[0].tolist()}]}).encode()
    lines = invoke(nimbus, job["TrainingJobName"], instances, "application/json", "application/jsonlines")
    assert json.loads(lines)["score"] == pytest.approx(expected[0], abs=2e-3)


def test_kmeans_finds_the_blobs(nimbus: NimbusServer, bucket: str) -> None:
    features, truth = make_blobs(n_samples=600, centers=3, n_features=4, cluster_std=1.0, random_state=1)
    params = {
        "k": "3",
        "feature_dim": "4",
        "init_method": "kmeans++",
        "epochs": "3",
        "mini_batch_size": "200",
    }
    job = train_and_deploy(nimbus, bucket, "kmeans", recordio.write_dense(features), params)
    assert {m["MetricName"] for m in job["FinalMetricDataList"]} == {"train:msd"}

    csv = "\n".join(",".join(repr(float(v)) for v in row) for row in features).encode()
    predictions = json.loads(invoke(nimbus, job["TrainingJobName"], csv, "text/csv"))["predictions"]
    clusters = [p["closest_cluster"] for p in predictions]
    assert adjusted_rand_score(truth, clusters) >= 0.95
    direct = KMeans(n_clusters=3, n_init=10, random_state=0).fit_predict(features)
    assert adjusted_rand_score(direct, clusters) >= 0.95
    distances = np.array([p["distance_to_cluster"] for p in predictions])
    assert np.all(distances >= 0) and distances.mean() < 4

    answer = invoke(nimbus, job["TrainingJobName"], recordio.write_dense(features[:4]), RECORDIO, RECORDIO)
    records = recordio.read_records(answer)
    assert [int(r.label["closest_cluster"][0]) for r in records] == clusters[:4]
