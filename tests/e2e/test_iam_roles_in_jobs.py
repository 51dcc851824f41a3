"""Execution roles that are used: a training job's code calls AWS as its role, through the container
credentials endpoint boto3 reads (AWS_CONTAINER_CREDENTIALS_FULL_URI), so it reads what the role
allows and meets AccessDenied, in its own log, for what the role does not; and SageMaker itself
moves the job's data as the role, so a channel the role may not read fails the job."""

from __future__ import annotations

import io
import json
import tarfile
import time
import uuid
from collections.abc import Callable
from typing import Any

import requests
from conftest import NimbusServer

XGBOOST_IMAGE = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost:1.7-1"
SKLEARN_IMAGE = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-scikit-learn:1.2-1-cpu-py3"
SCRIPT = """
import sys, boto3
from botocore.exceptions import ClientError

bucket = sys.argv[sys.argv.index("--bucket") + 1]
print("identity:", boto3.client("sts").get_caller_identity()["Arn"], flush=True)
s3 = boto3.client("s3")
print("allowed:", s3.get_object(Bucket=bucket, Key="allowed/a.txt")["Body"].read().decode(), flush=True)
try:
    s3.get_object(Bucket=bucket, Key="secret/b.txt")
except ClientError as error:
    print("denied:", error.response["Error"]["Code"], error.response["Error"]["Message"], flush=True)
    sys.exit(3)
"""
TRUST = {
    "Version": "2012-10-17",
    "Statement": [
        {"Effect": "Allow", "Principal": {"Service": "sagemaker.amazonaws.com"}, "Action": "sts:AssumeRole"}
    ],
}


def _archive(text: str) -> bytes:
    data = io.BytesIO()
    with tarfile.open(fileobj=data, mode="w:gz") as tar:
        info = tarfile.TarInfo("train.py")
        info.size = len(text.encode())
        tar.addfile(info, io.BytesIO(text.encode()))
    return data.getvalue()


def _log(logs: Any, job: str) -> str:
    streams = logs.describe_log_streams(logGroupName="/aws/sagemaker/TrainingJobs", logStreamNamePrefix=job)
    lines = []
    for stream in streams["logStreams"]:
        events = logs.get_log_events(
            logGroupName="/aws/sagemaker/TrainingJobs",
            logStreamName=stream["logStreamName"],
            startFromHead=True,
        )
        lines += [event["message"] for event in events["events"]]
    return "\n".join(lines)


def _train(
    sagemaker: Any, job: str, role_arn: str, bucket: str, channels: list[dict[str, Any]] | None = None
) -> dict[str, Any]:
    """Runs the script as a training job with this role; the job's description once it has ended."""
    sagemaker.create_training_job(
        TrainingJobName=job,
        AlgorithmSpecification={"TrainingImage": SKLEARN_IMAGE, "TrainingInputMode": "File"},
        RoleArn=role_arn,
        HyperParameters={
            "sagemaker_program": json.dumps("train.py"),
            "sagemaker_submit_directory": json.dumps(f"s3://{bucket}/source/sourcedir.tar.gz"),
            "bucket": json.dumps(bucket),
        },
        **({"InputDataConfig": channels} if channels else {}),
        OutputDataConfig={"S3OutputPath": f"s3://{bucket}/output"},
        ResourceConfig={"InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 1},
        StoppingCondition={"MaxRuntimeInSeconds": 300},
    )
    return _ended(lambda: sagemaker.describe_training_job(TrainingJobName=job), "TrainingJobStatus")


def _ended(describe: Callable[[], dict[str, Any]], status: str) -> dict[str, Any]:
    described: dict[str, Any] = {}
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        described = describe()
        if described[status] not in ("InProgress", "Stopping"):
            break
        time.sleep(0.5)
    return described


def test_training_job_reads_only_what_its_role_allows(nimbus: NimbusServer, bucket: str) -> None:
    iam, s3, sagemaker = nimbus.client("iam"), nimbus.client("s3"), nimbus.client("sagemaker")
    role_name = f"trainer-{uuid.uuid4().hex[:8]}"
    role_arn = iam.create_role(RoleName=role_name, AssumeRolePolicyDocument=json.dumps(TRUST))["Role"]["Arn"]
    reads = {
        "Effect": "Allow",
        "Action": "s3:GetObject",
        "Resource": [f"arn:aws:s3:::{bucket}/allowed/*", f"arn:aws:s3:::{bucket}/source/*"],
    }
    lists = {"Effect": "Allow", "Action": "s3:ListBucket", "Resource": f"arn:aws:s3:::{bucket}"}
    writes = {"Effect": "Allow", "Action": "s3:PutObject", "Resource": f"arn:aws:s3:::{bucket}/out/*"}
    iam.put_role_policy(
        RoleName=role_name,
        PolicyName="reads",
        PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [reads, lists, writes]}),
    )
    s3.put_object(Bucket=bucket, Key="allowed/a.txt", Body=b"open data")
    s3.put_object(Bucket=bucket, Key="secret/b.txt", Body=b"not for the job")
    s3.put_object(Bucket=bucket, Key="source/sourcedir.tar.gz", Body=_archive(SCRIPT))
    job = f"roles-{uuid.uuid4().hex[:10]}"
    described = _train(sagemaker, job, role_arn, bucket)
    assert described["TrainingJobStatus"] == "Failed", described
    log = _log(nimbus.client("logs"), job)
    assert f"identity: arn:aws:sts::{nimbus.account_id}:assumed-role/{role_name}/{job}" in log, log
    assert "allowed: open data" in log, log
    assert (
        "denied: AccessDenied" in log
        and f"s3:GetObject on resource: arn:aws:s3:::{bucket}/secret/b.txt" in log
    )

    # SageMaker moves the job's data as the role: a channel the role may not read fails the job
    refused = f"roles-{uuid.uuid4().hex[:10]}"
    channel = {"S3DataType": "S3Prefix", "S3Uri": f"s3://{bucket}/secret/"}
    described = _train(
        sagemaker,
        refused,
        role_arn,
        bucket,
        [{"ChannelName": "train", "DataSource": {"S3DataSource": channel}}],
    )
    assert described["TrainingJobStatus"] == "Failed", described
    assert described["FailureReason"].startswith("ClientError: Data download failed: AccessDenied"), described
    assert f"s3:GetObject on resource: arn:aws:s3:::{bucket}/secret/b.txt" in described["FailureReason"]

    # batch transform reads its inputs (allowed here), writes its outputs (allowed) and reads its
    # model's data (not allowed) as its model's execution role
    model = f"roles-{uuid.uuid4().hex[:8]}"
    container = {"Image": XGBOOST_IMAGE, "ModelDataUrl": f"s3://{bucket}/secret/b.txt"}
    sagemaker.create_model(ModelName=model, PrimaryContainer=container, ExecutionRoleArn=role_arn)
    inputs = {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": f"s3://{bucket}/allowed/"}}
    sagemaker.create_transform_job(
        TransformJobName=model,
        ModelName=model,
        TransformInput={"DataSource": inputs},
        TransformOutput={"S3OutputPath": f"s3://{bucket}/out"},
        TransformResources={"InstanceType": "ml.m5.large", "InstanceCount": 1},
    )
    described = _ended(lambda: sagemaker.describe_transform_job(TransformJobName=model), "TransformJobStatus")
    assert described["TransformJobStatus"] == "Failed", described
    assert (
        f"Failed to download model data from s3://{bucket}/secret/b.txt: AccessDenied"
        in described["FailureReason"]
    )

    # the endpoint answers only grants this Nimbus made
    answer = requests.get(
        f"{nimbus.endpoint_url}/_nimbus/credentials", headers={"Authorization": "x.y"}, timeout=30
    )
    assert answer.status_code == 403
    sagemaker.delete_model(ModelName=model)
    iam.delete_role_policy(RoleName=role_name, PolicyName="reads")
    iam.delete_role(RoleName=role_name)
