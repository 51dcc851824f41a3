"""SageMaker batch transform end to end: a real XGBoost booster behind the job's worker processes,
driven by boto3 (every error path) and by the SDK v2 ``Transformer``; outputs are compared record by
record with the booster's own predictions."""

from __future__ import annotations

import gzip
import io
import json
import tarfile
import time
import uuid
from typing import Any

import numpy as np
import pytest
import sagemaker
import test_sagemaker_sdk
import xgboost
from botocore.exceptions import ClientError
from conftest import NimbusServer, error_code
from roles import execution_role
from sklearn.datasets import load_breast_cancer

XGBOOST_IMAGE = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost:1.7-1"
TERMINAL = ("Completed", "Failed", "Stopped")
session = test_sagemaker_sdk.session  # the notebook's SDK session, with its fast clock


class Scene:
    """A bucket holding the booster's model, the SageMaker model made from it, and the rows to score."""

    def __init__(self, nimbus: NimbusServer, tmp_path_factory: pytest.TempPathFactory) -> None:
        features, labels = load_breast_cancer(return_X_y=True)
        self.booster = xgboost.train(
            {"objective": "binary:logistic", "max_depth": 3},
            xgboost.DMatrix(features, label=labels),
            num_boost_round=10,
        )
        self.rows = features.astype(np.float32)
        model_dir = tmp_path_factory.mktemp("transform-model")
        self.booster.save_model(str(model_dir / "xgboost-model"))
        archive = io.BytesIO()
        with tarfile.open(fileobj=archive, mode="w:gz") as tar:
            tar.add(model_dir / "xgboost-model", arcname="xgboost-model")
        self.s3 = nimbus.client("s3")
        self.sagemaker = nimbus.client("sagemaker")
        self.logs = nimbus.client("logs")
        self.bucket = f"transform-{uuid.uuid4().hex[:12]}"
        self.s3.create_bucket(Bucket=self.bucket)
        self.s3.put_object(Bucket=self.bucket, Key="model/model.tar.gz", Body=archive.getvalue())
        self.model_data = f"s3://{self.bucket}/model/model.tar.gz"
        self.model = f"xgb-{uuid.uuid4().hex[:8]}"
        self.sagemaker.create_model(
            ModelName=self.model,
            PrimaryContainer={"Image": XGBOOST_IMAGE, "ModelDataUrl": self.model_data},
            ExecutionRoleArn=execution_role(self.sagemaker),
        )

    def predict(self, rows: np.ndarray) -> np.ndarray:
        return np.asarray(self.booster.predict(xgboost.DMatrix(rows)))

    def put(self, key: str, body: bytes) -> str:
        self.s3.put_object(Bucket=self.bucket, Key=key, Body=body)
        return f"s3://{self.bucket}/{key}"

    def get(self, key: str) -> bytes:
        return bytes(self.s3.get_object(Bucket=self.bucket, Key=key)["Body"].read())

    def keys(self, prefix: str) -> list[str]:
        listed = self.s3.list_objects_v2(Bucket=self.bucket, Prefix=prefix)
        return sorted(entry["Key"] for entry in listed.get("Contents", []))

    def request(self, name: str, data: str, output_path: str, **members: Any) -> dict[str, Any]:
        data_type = members.pop("data_type", "S3Prefix")
        return {
            "TransformJobName": name,
            "ModelName": self.model,
            "TransformInput": {
                "DataSource": {"S3DataSource": {"S3DataType": data_type, "S3Uri": data}},
                "ContentType": "text/csv",
                "SplitType": "Line",
                **members.pop("input", {}),
            },
            "TransformOutput": {
                "S3OutputPath": output_path,
                "AssembleWith": "Line",
                **members.pop("output", {}),
            },
            "TransformResources": {"InstanceType": "ml.m5.large", "InstanceCount": 1},
            **members,
        }

    def run(self, data: str, output_path: str, **members: Any) -> dict[str, Any]:
        name = f"job-{uuid.uuid4().hex[:10]}"
        self.sagemaker.create_transform_job(**self.request(name, data, output_path, **members))
        return self.wait(name)

    def wait(self, name: str, timeout: float = 60.0) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            described = self.sagemaker.describe_transform_job(TransformJobName=name)
            if described["TransformJobStatus"] in TERMINAL:
                return dict(described)
            time.sleep(0.1)
        raise AssertionError(
            f"transform job {name} still {described['TransformJobStatus']} after {timeout} s"
        )

    def data_log(self, name: str) -> str:
        """The job's data-log lines so far ("" before its first line created the log group)."""
        try:
            streams = self.logs.describe_log_streams(
                logGroupName="/aws/sagemaker/TransformJobs", logStreamNamePrefix=f"{name}/"
            )["logStreams"]
        except self.logs.exceptions.ResourceNotFoundException:
            return ""
        return "\n".join(
            event["message"]
            for stream in streams
            if stream["logStreamName"].endswith("/data-log")
            for event in self.logs.get_log_events(
                logGroupName="/aws/sagemaker/TransformJobs", logStreamName=stream["logStreamName"]
            )["events"]
        )


@pytest.fixture(scope="module")
def scene(nimbus: NimbusServer, tmp_path_factory: pytest.TempPathFactory) -> Scene:
    return Scene(nimbus, tmp_path_factory)


def _csv(rows: np.ndarray) -> bytes:
    return "".join(",".join(repr(float(v)) for v in row) + "\n" for row in rows).encode()


def _scores(body: bytes) -> np.ndarray:
    return np.array([float(line) for line in body.decode().splitlines()])


def test_csv_objects_spread_over_two_instances_in_order(scene: Scene) -> None:
    many = np.tile(scene.rows, (8, 1))  # ~1.3 MB: three requests of at most 1 MB... per object below
    scene.put("csv/a.csv", _csv(many))
    scene.put("csv/nested/b.csv", _csv(scene.rows[:50]))
    described = scene.run(
        f"s3://{scene.bucket}/csv/",
        f"s3://{scene.bucket}/csv-out",
        BatchStrategy="MultiRecord",
        MaxPayloadInMB=1,
        MaxConcurrentTransforms=3,
        TransformResources={"InstanceType": "ml.m5.large", "InstanceCount": 2},
        Environment={"SAGEMAKER_MODEL_SERVER_TIMEOUT": "30"},
        ModelClientConfig={"InvocationsTimeoutInSeconds": 30, "InvocationsMaxRetries": 1},
    )
    assert described["TransformJobStatus"] == "Completed", described.get("FailureReason")
    assert scene.keys("csv-out/") == ["csv-out/a.csv.out", "csv-out/nested/b.csv.out"]
    np.testing.assert_allclose(_scores(scene.get("csv-out/a.csv.out")), scene.predict(many), atol=1e-6)
    np.testing.assert_allclose(
        _scores(scene.get("csv-out/nested/b.csv.out")), scene.predict(scene.rows[:50]), atol=1e-6
    )
    assert described["TransformStartTime"] <= described["TransformEndTime"]
    assert described["TransformJobArn"].endswith(f":transform-job/{described['TransformJobName']}")
    assert (described["MaxPayloadInMB"], described["BatchStrategy"]) == (1, "MultiRecord")
    assert described["Environment"] == {"SAGEMAKER_MODEL_SERVER_TIMEOUT": "30"}
    assert described["ModelClientConfig"] == {"InvocationsTimeoutInSeconds": 30, "InvocationsMaxRetries": 1}
    assert "MaxConcurrentTransforms=3, MaxPayloadInMB=1, BatchStrategy=MULTI_RECORD" in scene.data_log(
        described["TransformJobName"]
    )


def test_gzip_input_and_a_manifest(scene: Scene) -> None:
    scene.put("gz/part-1.csv.gz", gzip.compress(_csv(scene.rows[:100])))
    scene.put("gz/part-2.csv.gz", gzip.compress(_csv(scene.rows[100:130])))
    scene.put("gz/ignored.csv.gz", b"not in the manifest")
    manifest = [{"prefix": f"s3://{scene.bucket}/gz/"}, "part-2.csv.gz", "part-1.csv.gz"]
    uri = scene.put("manifests/gz.json", json.dumps(manifest).encode())
    described = scene.run(
        uri,
        f"s3://{scene.bucket}/gz-out/",
        data_type="ManifestFile",
        input={"CompressionType": "Gzip"},
        BatchStrategy="SingleRecord",
        MaxConcurrentTransforms=4,
    )
    assert described["TransformJobStatus"] == "Completed", described.get("FailureReason")
    assert scene.keys("gz-out/") == ["gz-out/part-1.csv.gz.out", "gz-out/part-2.csv.gz.out"]
    np.testing.assert_allclose(
        _scores(scene.get("gz-out/part-1.csv.gz.out")), scene.predict(scene.rows[:100]), atol=1e-6
    )
    np.testing.assert_allclose(
        _scores(scene.get("gz-out/part-2.csv.gz.out")), scene.predict(scene.rows[100:130]), atol=1e-6
    )


def test_json_lines_joined_with_their_input_and_filtered(scene: Scene) -> None:
    lines = [
        json.dumps({"id": f"r{index}", "features": row.tolist(), "note": "x"})
        for index, row in enumerate(scene.rows[:40])
    ]
    scene.put("jsonl/records.jsonl", ("\n".join(lines) + "\n").encode())
    described = scene.run(
        f"s3://{scene.bucket}/jsonl/records.jsonl",
        f"s3://{scene.bucket}/jsonl-out",
        input={"ContentType": "application/jsonlines"},
        output={"Accept": "text/csv"},
        BatchStrategy="MultiRecord",
        DataProcessing={
            "InputFilter": "$.features",
            "JoinSource": "Input",
            "OutputFilter": "$['id','SageMakerOutput']",
        },
    )
    assert described["TransformJobStatus"] == "Completed", described.get("FailureReason")
    joined = [json.loads(line) for line in scene.get("jsonl-out/records.jsonl.out").decode().splitlines()]
    assert [record["id"] for record in joined] == [f"r{index}" for index in range(40)]
    assert all(set(record) == {"id", "SageMakerOutput"} for record in joined)
    np.testing.assert_allclose(
        [r["SageMakerOutput"] for r in joined], scene.predict(scene.rows[:40]), atol=1e-6
    )


def test_records_over_the_limit_or_refused_by_the_container_fail_the_job(scene: Scene) -> None:
    """Two objects failing each its own way are both logged and get no .out; the job goes on with the
    others, whose outputs are written, as AWS does."""
    huge = ",".join(["1.0"] * 300_000).encode()  # one 1.2 MB line
    scene.put("bad/big.csv", _csv(scene.rows[:3]) + huge + b"\n")
    scene.put("bad/malformed.csv", _csv(scene.rows[:5]) + b"1.0,not-a-number,3.0\n")
    scene.put("bad/z-good.csv", _csv(scene.rows[:7]))
    described = scene.run(
        f"s3://{scene.bucket}/bad/",
        f"s3://{scene.bucket}/bad-out",
        MaxPayloadInMB=1,
        BatchStrategy="SingleRecord",
        TransformResources={"InstanceType": "ml.m5.large", "InstanceCount": 2},
    )
    assert described["TransformJobStatus"] == "Failed"
    assert described["FailureReason"] == "ClientError: See job logs for more information"
    log = scene.data_log(described["TransformJobName"])
    assert f"{scene.bucket}/bad/big.csv: Too much data for max payload size" in log
    assert f"{scene.bucket}/bad/malformed.csv: ClientError: 400" in log
    assert "Unable to parse the request" in log
    assert scene.keys("bad-out/") == ["bad-out/z-good.csv.out"]  # no partial .out for the others
    np.testing.assert_allclose(
        _scores(scene.get("bad-out/z-good.csv.out")), scene.predict(scene.rows[:7]), atol=1e-6
    )


def test_a_missing_input_prefix_fails_the_job(scene: Scene) -> None:
    described = scene.run(f"s3://{scene.bucket}/nothing-here/", f"s3://{scene.bucket}/none-out")
    assert described["TransformJobStatus"] == "Failed"
    assert described["FailureReason"].startswith(
        f'ClientError: No S3 objects found under S3 URL "s3://{scene.bucket}/nothing-here/"'
    )


@pytest.mark.parametrize(
    ("members", "message"),
    [
        ({"MaxPayloadInMB": 101}, "less than or equal to 100"),
        ({"MaxPayloadInMB": 6, "MaxConcurrentTransforms": 20}, "must not exceed 100 MB"),
        ({"MaxConcurrentTransforms": 17}, "must not exceed 100 MB"),  # with the default 6 MB
        ({"DataProcessing": {"InputFilter": "$..features"}}, "is not supported"),
        ({"DataProcessing": {"JoinSource": "Input"}, "input": {"ContentType": "image/png"}}, "ContentType"),
        ({"input": {"SplitType": "RecordIO"}, "DataProcessing": {"OutputFilter": "$[0]"}}, "RecordIO"),
        ({"ModelName": "no-such-model"}, "Could not find model"),
        ({"data_type": "AugmentedManifestFile"}, "S3DataType"),
    ],
)
def test_invalid_combinations_are_refused_and_nothing_is_stored(
    scene: Scene, members: dict[str, Any], message: str
) -> None:
    name = f"bad-{uuid.uuid4().hex[:10]}"
    with pytest.raises(ClientError) as caught:
        scene.sagemaker.create_transform_job(
            **scene.request(name, f"s3://{scene.bucket}/csv/", f"s3://{scene.bucket}/x", **members)
        )
    assert error_code(caught) == "ValidationException"
    assert message in str(caught.value)
    assert scene.sagemaker.list_transform_jobs(NameContains=name)["TransformJobSummaries"] == []
    with pytest.raises(ClientError):
        scene.sagemaker.describe_transform_job(TransformJobName=name)


def _slow_job(scene: Scene, prefix: str) -> str:
    """A job that runs for a while: one request per record, one at a time."""
    scene.put(f"{prefix}/rows.csv", _csv(np.tile(scene.rows, (20, 1))))
    name = f"slow-{uuid.uuid4().hex[:10]}"
    request = scene.request(
        name,
        f"s3://{scene.bucket}/{prefix}/",
        f"s3://{scene.bucket}/{prefix}-out",
        BatchStrategy="SingleRecord",
    )
    scene.sagemaker.create_transform_job(**request)
    return name


def test_stop_ends_the_job_stopped_without_output(scene: Scene) -> None:
    name = _slow_job(scene, "stop")
    deadline = time.monotonic() + 30
    while "MaxConcurrentTransforms=" not in scene.data_log(name):  # its requests have started
        assert time.monotonic() < deadline, "the job never started transforming"
        time.sleep(0.2)
    scene.sagemaker.stop_transform_job(TransformJobName=name)
    assert scene.sagemaker.describe_transform_job(TransformJobName=name)["TransformJobStatus"] in (
        "Stopping",
        "Stopped",
    )
    described = scene.wait(name, timeout=20)
    assert described["TransformJobStatus"] == "Stopped"
    assert scene.keys("stop-out/") == []
    with pytest.raises(ClientError) as caught:
        scene.sagemaker.stop_transform_job(TransformJobName=name)
    assert error_code(caught) == "ValidationException"


def test_list_filters_sorts_and_pages(scene: Scene) -> None:
    marker = uuid.uuid4().hex[:8]
    names = [f"list-{marker}-{index}" for index in range(3)]
    for name in names:
        scene.sagemaker.create_transform_job(
            **scene.request(name, f"s3://{scene.bucket}/nothing-{marker}/", f"s3://{scene.bucket}/x")
        )
    for name in names:
        scene.wait(name)
    first = scene.sagemaker.list_transform_jobs(
        NameContains=marker, SortBy="Name", SortOrder="Ascending", MaxResults=2
    )
    assert [job["TransformJobName"] for job in first["TransformJobSummaries"]] == names[:2]
    rest = scene.sagemaker.list_transform_jobs(
        NameContains=marker, SortBy="Name", SortOrder="Ascending", MaxResults=2, NextToken=first["NextToken"]
    )
    assert [job["TransformJobName"] for job in rest["TransformJobSummaries"]] == names[2:]
    assert "NextToken" not in rest
    failed = scene.sagemaker.list_transform_jobs(NameContains=marker, StatusEquals="Failed")[
        "TransformJobSummaries"
    ]
    assert len(failed) == 3 and all(
        job["FailureReason"].startswith("ClientError: No S3 objects") for job in failed
    )
    assert (
        scene.sagemaker.list_transform_jobs(NameContains=marker, StatusEquals="Completed")[
            "TransformJobSummaries"
        ]
        == []
    )


def test_a_restart_fails_the_running_job(scene: Scene, restart_server: Any) -> None:
    name = _slow_job(scene, "restart")
    server = restart_server()
    described = server.client("sagemaker").describe_transform_job(TransformJobName=name)
    assert described["TransformJobStatus"] == "Failed"
    assert described["FailureReason"] == "The Nimbus node running the job stopped (restarted or died)"


def test_sdk_transformer_csv_with_join_and_filters(session: Any) -> None:
    features, _ = load_breast_cancer(return_X_y=True)
    rows = features[:60].astype(np.float32)
    booster = xgboost.train(
        {"objective": "binary:logistic"},
        xgboost.DMatrix(features, label=features[:, 0] > 14),
        num_boost_round=5,
    )
    archive = io.BytesIO()
    raw = booster.save_raw("json")
    with tarfile.open(fileobj=archive, mode="w:gz") as tar:
        info = tarfile.TarInfo("xgboost-model")
        info.size = len(raw)
        tar.addfile(info, io.BytesIO(bytes(raw)))
    bucket = session.default_bucket()
    s3 = session.boto_session.client("s3")
    s3.put_object(Bucket=bucket, Key="sdk/model.tar.gz", Body=archive.getvalue())
    with_ids = "".join(
        f"id-{index}," + ",".join(repr(float(v)) for v in row) + "\n" for index, row in enumerate(rows)
    )
    s3.put_object(Bucket=bucket, Key="sdk/batch/rows.csv", Body=with_ids.encode())

    model = sagemaker.model.Model(
        image_uri=XGBOOST_IMAGE,
        model_data=f"s3://{bucket}/sdk/model.tar.gz",
        role=execution_role(s3),
        sagemaker_session=session,
    )
    transformer = model.transformer(
        instance_count=1,
        instance_type="ml.m5.large",
        strategy="MultiRecord",
        assemble_with="Line",
        accept="text/csv",
        output_path=f"s3://{bucket}/sdk/batch-out",
    )
    transformer.transform(
        f"s3://{bucket}/sdk/batch/",
        content_type="text/csv",
        split_type="Line",
        input_filter="$[1:]",
        join_source="Input",
        output_filter="$[0,-1]",
        wait=True,
        logs=True,
    )
    output = s3.get_object(Bucket=bucket, Key="sdk/batch-out/rows.csv.out")["Body"].read().decode()
    pairs = [line.split(",") for line in output.splitlines()]
    assert [pair[0] for pair in pairs] == [f"id-{index}" for index in range(60)]
    predicted = booster.predict(xgboost.DMatrix(rows))
    np.testing.assert_allclose([float(pair[1]) for pair in pairs], predicted, atol=1e-6)
