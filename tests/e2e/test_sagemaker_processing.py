"""Processing jobs through the SageMaker Python SDK v2: SKLearnProcessor over two instances with
sharded input, FrameworkProcessor with a source directory; outputs land in S3, logs in CloudWatch."""

from __future__ import annotations

import json
import time
import uuid
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError
from conftest import NimbusServer, error_code
from roles import execution_role
from sagemaker.processing import FrameworkProcessor, ProcessingInput, ProcessingOutput
from sagemaker.sklearn.estimator import SKLearn
from sagemaker.sklearn.processing import SKLearnProcessor
from sagemaker_sdk_support import notebook_session, role

SHARD_SCRIPT = """
import argparse, json, pathlib
import pandas as pd
parser = argparse.ArgumentParser()
parser.add_argument("--scale", type=float)
args = parser.parse_args()
host = json.load(open("/opt/ml/config/resourceconfig.json"))["current_host"]
files = sorted(pathlib.Path("/opt/ml/processing/input/data").glob("*.csv"))
total = sum(pd.read_csv(path, header=None).to_numpy().sum() for path in files)
print(f"{host} read {len(files)} files", flush=True)
out = pathlib.Path("/opt/ml/processing/output") / f"{host}.json"
out.write_text(json.dumps({"files": [p.name for p in files], "total": total * args.scale}))
"""
FRAMEWORK_SCRIPT = """
import sys, pathlib
from helper import shout
pathlib.Path("/opt/ml/processing/output/result.txt").write_text(shout(sys.argv[1]))
print("framework processor done", flush=True)
"""


@pytest.fixture
def session(nimbus: NimbusServer, monkeypatch: pytest.MonkeyPatch) -> Any:
    return notebook_session(nimbus, monkeypatch)


def test_sklearn_processor_shards_input_over_two_instances(
    session: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bucket = session.default_bucket()
    s3 = session.boto_session.client("s3")
    for index in range(4):
        s3.put_object(Bucket=bucket, Key=f"raw/part-{index}.csv", Body=f"{index},{index}\n1,1\n".encode())
    code = tmp_path / "shard.py"
    code.write_text(SHARD_SCRIPT)
    processor = SKLearnProcessor(
        framework_version="1.2-1",
        role=role(session),
        instance_type="ml.m5.large",
        instance_count=2,
        sagemaker_session=session,
    )
    processor.run(
        code=str(code),
        inputs=[
            ProcessingInput(
                source=f"s3://{bucket}/raw/",
                destination="/opt/ml/processing/input/data",
                s3_data_distribution_type="ShardedByS3Key",
            )
        ],
        outputs=[
            ProcessingOutput(source="/opt/ml/processing/output", destination=f"s3://{bucket}/processed")
        ],
        arguments=["--scale", "10"],
        wait=True,
        logs=True,
    )
    logged = capsys.readouterr().out
    assert "algo-1 read 2 files" in logged and "algo-2 read 2 files" in logged  # CloudWatch, via the SDK
    job = processor.latest_job.describe()
    assert job["ProcessingJobStatus"] == "Completed"
    shards = [
        json.loads(s3.get_object(Bucket=bucket, Key=f"processed/algo-{n}.json")["Body"].read())
        for n in (1, 2)
    ]
    assert sorted(shards[0]["files"] + shards[1]["files"]) == [f"part-{i}.csv" for i in range(4)]
    assert shards[0]["total"] + shards[1]["total"] == 10 * sum(2 * i + 2 for i in range(4))


def test_framework_processor_runs_a_source_directory(session: Any, tmp_path: Path) -> None:
    source = tmp_path / "src"
    source.mkdir()
    (source / "process.py").write_text(FRAMEWORK_SCRIPT)
    (source / "helper.py").write_text("def shout(text):\n    return text.upper() + '!'\n")
    processor = FrameworkProcessor(
        estimator_cls=SKLearn,
        framework_version="1.2-1",
        role=role(session),
        instance_type="ml.m5.large",
        instance_count=1,
        sagemaker_session=session,
    )
    destination = f"s3://{session.default_bucket()}/framework-out"
    processor.run(
        code="process.py",
        source_dir=str(source),
        outputs=[ProcessingOutput(source="/opt/ml/processing/output", destination=destination)],
        arguments=["hello"],
        wait=True,
        logs=False,
    )
    s3 = session.boto_session.client("s3")
    body = s3.get_object(Bucket=session.default_bucket(), Key="framework-out/result.txt")["Body"].read()
    assert body == b"HELLO!"
    name = processor.latest_job.job_name
    events = session.boto_session.client("logs").filter_log_events(
        logGroupName="/aws/sagemaker/ProcessingJobs", logStreamNamePrefix=f"{name}/algo-1"
    )["events"]
    assert any("framework processor done" in event["message"] for event in events)


def test_failing_and_invalid_jobs(nimbus: NimbusServer, bucket: str) -> None:
    client = nimbus.client("sagemaker")
    image = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-scikit-learn:1.2-1-cpu-py3"
    request: dict[str, Any] = {
        "ProcessingResources": {
            "ClusterConfig": {"InstanceCount": 1, "InstanceType": "ml.m5.large", "VolumeSizeInGB": 5}
        },
        "AppSpecification": {
            "ImageUri": image,
            "ContainerEntrypoint": ["python3", "-c", "raise SystemExit(3)"],
        },
        "RoleArn": execution_role(client),
    }
    bad_path = {
        "ProcessingOutputConfig": {
            "Outputs": [
                {
                    "OutputName": "out",
                    "S3Output": {
                        "S3Uri": f"s3://{bucket}/x",
                        "LocalPath": "/tmp/out",
                        "S3UploadMode": "EndOfJob",
                    },
                }
            ]
        }
    }
    bad = f"bad-{uuid.uuid4().hex[:8]}"
    with pytest.raises(ClientError) as caught:
        client.create_processing_job(ProcessingJobName=bad, **request, **bad_path)
    assert error_code(caught) == "ValidationException" and "/opt/ml/processing/" in str(caught.value)
    with pytest.raises(ClientError) as caught:
        client.describe_processing_job(ProcessingJobName=bad)
    assert error_code(caught) == "ResourceNotFound"

    name = f"fails-{uuid.uuid4().hex[:8]}"
    client.create_processing_job(ProcessingJobName=name, **request)
    job = client.describe_processing_job(ProcessingJobName=name)
    deadline = time.monotonic() + 120
    while job["ProcessingJobStatus"] == "InProgress" and time.monotonic() < deadline:
        time.sleep(0.3)
        job = client.describe_processing_job(ProcessingJobName=name)
    assert job["ProcessingJobStatus"] == "Failed"
    assert (
        job["FailureReason"].startswith("AlgorithmError: See job logs")
        and "exited with 3" in job["FailureReason"]
    )
    listed = client.list_processing_jobs(NameContains=name, StatusEquals="Failed")["ProcessingJobSummaries"]
    assert [summary["ProcessingJobName"] for summary in listed] == [name]
