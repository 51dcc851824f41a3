"""The SageMaker Python SDK v2's built-in algorithm estimators against Nimbus, as a notebook uses them:
``estimator.record_set(array)`` uploads RecordIO-protobuf, ``fit`` trains, ``deploy`` serves and the
algorithm's predictor answers; each result matches the same model built with scikit-learn. Bad
hyperparameters fail the job (boto3) with the algorithm's reason."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np
import pytest
import sagemaker
from conftest import NimbusServer
from roles import execution_role
from sagemaker_sdk_support import notebook_session, role
from sklearn.cluster import KMeans
from sklearn.datasets import load_breast_cancer, make_blobs, make_classification
from sklearn.decomposition import PCA
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import adjusted_rand_score
from sklearn.model_selection import train_test_split
from sklearn.neighbors import KNeighborsClassifier
from sklearn.preprocessing import StandardScaler

INSTANCE = "ml.m5.large"


@pytest.fixture
def session(nimbus: NimbusServer, monkeypatch: pytest.MonkeyPatch) -> Any:
    return notebook_session(nimbus, monkeypatch)


def estimator_args(session: Any) -> dict[str, Any]:
    return {
        "role": role(session),
        "instance_count": 1,
        "instance_type": INSTANCE,
        "sagemaker_session": session,
        "output_path": f"s3://{session.default_bucket()}/output",
    }


@contextmanager
def deployed(estimator: Any) -> Iterator[Any]:
    """The algorithm's predictor on a one-instance endpoint, deleted with its model afterwards."""
    predictor = estimator.deploy(initial_instance_count=1, instance_type=INSTANCE)
    try:
        yield predictor
    finally:
        predictor.delete_model()
        predictor.delete_endpoint()


def labels_of(records: list[Any], name: str) -> np.ndarray:
    """One label tensor of each Record the SDK's RecordDeserializer returns, as rows."""
    return np.array([list(record.label[name].float32_tensor.values) for record in records])


def final_metrics(estimator: Any) -> dict[str, float]:
    job = estimator.latest_training_job.describe()
    return {metric["MetricName"]: metric["Value"] for metric in job.get("FinalMetricDataList", [])}


def test_linear_learner_record_set_matches_logistic_regression(session: Any) -> None:
    features, labels = load_breast_cancer(return_X_y=True)
    train_x, test_x, train_y, test_y = train_test_split(
        features.astype(np.float32), labels.astype(np.float32), test_size=0.25, random_state=0
    )
    estimator = sagemaker.LinearLearner(
        predictor_type="binary_classifier", wd=0.001, **estimator_args(session)
    )
    estimator.fit(estimator.record_set(train_x, train_y), logs=False)
    with deployed(estimator) as predictor:
        records = predictor.predict(test_x)
    scores, predicted = labels_of(records, "score")[:, 0], labels_of(records, "predicted_label")[:, 0]

    # the same objective: mean log loss + wd / 2 * |w|^2 on standardized features
    scaler = StandardScaler().fit(train_x.astype(np.float64))
    direct = LogisticRegression(C=1 / (len(train_y) * 0.001), max_iter=2000).fit(
        scaler.transform(train_x.astype(np.float64)), train_y
    )
    expected = direct.predict_proba(scaler.transform(test_x.astype(np.float64)))[:, 1]
    np.testing.assert_allclose(scores, expected, atol=2e-3)  # float32 scores, solver tolerance
    assert np.array_equal(predicted, scores > 0.5)
    # accuracy within one test record of scikit-learn's, and good
    assert abs(np.mean(predicted == test_y) - direct.score(scaler.transform(test_x), test_y)) <= 1 / len(
        test_y
    )
    assert np.mean(predicted == test_y) > 0.93


def test_kmeans_record_set_matches_scikit_learn_up_to_relabelling(session: Any) -> None:
    features, _ = make_blobs(n_samples=300, centers=3, n_features=4, cluster_std=0.6, random_state=3)
    features = features.astype(np.float32)
    estimator = sagemaker.KMeans(k=3, init_method="kmeans++", epochs=3, **estimator_args(session))
    estimator.fit(estimator.record_set(features), mini_batch_size=100, logs=False)
    assert set(final_metrics(estimator)) == {"train:msd"}
    with deployed(estimator) as predictor:
        records = predictor.predict(features)
    clusters = labels_of(records, "closest_cluster")[:, 0]
    direct = KMeans(n_clusters=3, n_init=10, random_state=0).fit_predict(features)
    assert adjusted_rand_score(direct, clusters) == 1.0  # the same partition, whatever the numbering


def test_pca_record_set_projects_as_scikit_learn_up_to_sign(session: Any) -> None:
    rng = np.random.default_rng(5)
    mixing = rng.normal(size=(6, 6)) * np.array([5.0, 3.0, 2.0, 0.5, 0.2, 0.1])[:, None]
    features = (rng.normal(size=(400, 6)) @ mixing + 3.0).astype(np.float32)
    estimator = sagemaker.PCA(num_components=3, **estimator_args(session))
    estimator.fit(estimator.record_set(features), mini_batch_size=100, logs=False)
    with deployed(estimator) as predictor:
        records = predictor.predict(features[:50])
    projections = labels_of(records, "projection")

    # AWS's order: the most significant component last
    expected = PCA(n_components=3).fit(features.astype(np.float64)).transform(features[:50])[:, ::-1]
    signs = np.sign((projections * expected).sum(axis=0))
    np.testing.assert_allclose(projections * signs, expected, rtol=1e-4, atol=1e-3)


def test_knn_record_set_predicts_as_scikit_learn(session: Any, nimbus: NimbusServer) -> None:
    features, labels = make_classification(
        n_samples=400, n_features=5, n_informative=3, n_redundant=0, n_classes=3, random_state=2
    )
    train_x, test_x, train_y, test_y = train_test_split(features, labels.astype(float), random_state=0)
    estimator = sagemaker.KNN(k=5, sample_size=1000, predictor_type="classifier", **estimator_args(session))
    train, test = estimator.record_set(train_x, train_y), estimator.record_set(test_x, test_y, channel="test")
    estimator.fit([train, test], logs=False)
    direct = KNeighborsClassifier(n_neighbors=5).fit(train_x, train_y)
    assert final_metrics(estimator)["test:accuracy"] == pytest.approx(direct.score(test_x, test_y), abs=1e-6)

    with deployed(estimator) as predictor:
        predicted = labels_of(predictor.predict(test_x), "predicted_label")[:, 0]
        csv = "\n".join(",".join(repr(float(v)) for v in row) for row in test_x[:3])
        answer = nimbus.client("sagemaker-runtime").invoke_endpoint(
            EndpointName=predictor.endpoint_name,
            ContentType="text/csv",
            Accept="application/json; verbose=true",
            Body=csv.encode(),
        )
    np.testing.assert_array_equal(predicted, direct.predict(test_x))
    verbose = json.loads(answer["Body"].read())["predictions"]
    distances, neighbors = direct.kneighbors(test_x[:3])
    np.testing.assert_allclose([p["distances"] for p in verbose], distances, rtol=1e-6)
    assert [p["labels"] for p in verbose] == train_y[neighbors].tolist()
    assert [p["predicted_label"] for p in verbose] == predicted[:3].tolist()


def test_random_cut_forest_record_set_ranks_planted_anomalies_first(session: Any) -> None:
    rng = np.random.default_rng(7)
    normal = rng.normal(size=(1000, 3))
    planted = rng.normal(size=(5, 3)) * 0.2 + np.array([6.0, -6.0, 6.0])
    test_x = np.vstack([normal[:195], planted])
    test_y = np.r_[np.zeros(195), np.ones(5)]
    estimator = sagemaker.RandomCutForest(num_trees=50, num_samples_per_tree=256, **estimator_args(session))
    train, test = estimator.record_set(normal), estimator.record_set(test_x, test_y, channel="test")
    estimator.fit([train, test], logs=False)
    assert final_metrics(estimator)["test:f1"] == 1.0  # the three-sigma rule finds exactly the planted
    with deployed(estimator) as predictor:
        scores = labels_of(predictor.predict(test_x), "score")[:, 0]
    assert set(np.argsort(-scores)[:5]) == set(range(195, 200))
    assert np.median(scores[:195]) < 1.5 < scores[195:].min()


BAD_HYPERPARAMETERS = {
    # algorithm: (hyperparameters, what the failure reason names)
    "pca": ({"feature_dim": "4", "mini_batch_size": "10", "num_components": "9"}, "num_components"),
    "knn": (
        {"feature_dim": "4", "k": "3", "sample_size": "50", "predictor_type": "classify"},
        "predictor_type",
    ),
    "randomcutforest": ({"feature_dim": "4", "num_trees": "10"}, "num_trees"),
}


def test_bad_hyperparameters_fail_the_job_with_the_reason(nimbus: NimbusServer) -> None:
    s3, client = nimbus.client("s3"), nimbus.client("sagemaker")
    bucket = f"bad-hp-{uuid.uuid4().hex[:12]}"
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="train/data.csv", Body=b"1,2,3,4\n5,6,7,8\n")
    names = {}
    for algorithm, (hyperparameters, _) in BAD_HYPERPARAMETERS.items():
        names[algorithm] = f"bad-{algorithm}-{uuid.uuid4().hex[:8]}"
        client.create_training_job(
            TrainingJobName=names[algorithm],
            AlgorithmSpecification={
                "TrainingImage": f"382416733822.dkr.ecr.us-east-1.amazonaws.com/{algorithm}:1",
                "TrainingInputMode": "File",
            },
            RoleArn=execution_role(client),
            HyperParameters=hyperparameters,
            InputDataConfig=[
                {
                    "ChannelName": "train",
                    "ContentType": "text/csv",
                    "DataSource": {
                        "S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": f"s3://{bucket}/train"}
                    },
                }
            ],
            OutputDataConfig={"S3OutputPath": f"s3://{bucket}/output"},
            ResourceConfig={"InstanceType": INSTANCE, "InstanceCount": 1, "VolumeSizeInGB": 5},
            StoppingCondition={"MaxRuntimeInSeconds": 120},
        )
    deadline = time.monotonic() + 60
    for algorithm, (_, named) in BAD_HYPERPARAMETERS.items():
        job = client.describe_training_job(TrainingJobName=names[algorithm])
        while job["TrainingJobStatus"] == "InProgress" and time.monotonic() < deadline:
            time.sleep(0.3)
            job = client.describe_training_job(TrainingJobName=names[algorithm])
        assert job["TrainingJobStatus"] == "Failed", algorithm
        assert job["FailureReason"].startswith(f"AlgorithmError: Hyperparameter {named}:"), job[
            "FailureReason"
        ]
