"""Execution roles that are used: a training job's code calls AWS as its role, through the container
credentials endpoint boto3 reads (AWS_CONTAINER_CREDENTIALS_FULL_URI), so it reads what the role
allows and meets AccessDenied, in its own log, for what the role does not."""

from __future__ import annotations

import io
import json
import tarfile
import time
import uuid
from typing import Any

import requests
from conftest import NimbusServer

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


def _log(nimbus: NimbusServer, job: str) -> str:
    logs = nimbus.client("logs")
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


def test_training_job_reads_only_what_its_role_allows(nimbus: NimbusServer, bucket: str) -> None:
    iam, s3, sagemaker = nimbus.client("iam"), nimbus.client("s3"), nimbus.client("sagemaker")
    role_name = f"trainer-{uuid.uuid4().hex[:8]}"
    role_arn = iam.create_role(RoleName=role_name, AssumeRolePolicyDocument=json.dumps(TRUST))["Role"]["Arn"]
    reads = {"Effect": "Allow", "Action": "s3:GetObject", "Resource": f"arn:aws:s3:::{bucket}/allowed/*"}
    iam.put_role_policy(
        RoleName=role_name,
        PolicyName="reads",
        PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [reads]}),
    )
    s3.put_object(Bucket=bucket, Key="allowed/a.txt", Body=b"open data")
    s3.put_object(Bucket=bucket, Key="secret/b.txt", Body=b"not for the job")
    s3.put_object(Bucket=bucket, Key="source/sourcedir.tar.gz", Body=_archive(SCRIPT))
    job = f"roles-{uuid.uuid4().hex[:10]}"
    sagemaker.create_training_job(
        TrainingJobName=job,
        AlgorithmSpecification={"TrainingImage": SKLEARN_IMAGE, "TrainingInputMode": "File"},
        RoleArn=role_arn,
        HyperParameters={
            "sagemaker_program": json.dumps("train.py"),
            "sagemaker_submit_directory": json.dumps(f"s3://{bucket}/source/sourcedir.tar.gz"),
            "bucket": json.dumps(bucket),
        },
        OutputDataConfig={"S3OutputPath": f"s3://{bucket}/output"},
        ResourceConfig={"InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 1},
        StoppingCondition={"MaxRuntimeInSeconds": 300},
    )
    described: dict[str, Any] = {}
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        described = sagemaker.describe_training_job(TrainingJobName=job)
        if described["TrainingJobStatus"] not in ("InProgress", "Stopping"):
            break
        time.sleep(0.5)
    assert described["TrainingJobStatus"] == "Failed", described
    log = _log(nimbus, job)
    assert f"identity: arn:aws:sts::{nimbus.account_id}:assumed-role/{role_name}/{job}" in log, log
    assert "allowed: open data" in log, log
    assert (
        "denied: AccessDenied" in log
        and f"s3:GetObject on resource: arn:aws:s3:::{bucket}/secret/b.txt" in log
    )

    # the endpoint answers only grants this Nimbus made
    answer = requests.get(
        f"{nimbus.endpoint_url}/_nimbus/credentials", headers={"Authorization": "x.y"}, timeout=30
    )
    assert answer.status_code == 403
    iam.delete_role_policy(RoleName=role_name, PolicyName="reads")
    iam.delete_role(RoleName=role_name)
