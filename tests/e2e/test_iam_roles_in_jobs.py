"""Execution roles that are used: a training job's code calls AWS as its role, through the container
credentials endpoint boto3 reads (AWS_CONTAINER_CREDENTIALS_FULL_URI), so it reads what the role
allows and meets AccessDenied, in its own log, for what the role does not; and SageMaker itself
moves the job's data and pulls its image from Nimbus's registry as the role, so a channel the role
may not read, or an image it may not pull, fails the job."""

from __future__ import annotations

import gzip
import hashlib
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


def _ended(
    describe: Callable[[], dict[str, Any]], status: str, running: tuple[str, ...] = ("InProgress", "Stopping")
) -> dict[str, Any]:
    described: dict[str, Any] = {}
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        described = describe()
        if described[status] not in running:
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

    # Inference Recommender reads its sample payloads as the job's role: the model's data is
    # readable here, the payloads are not
    s3.put_object(Bucket=bucket, Key="allowed/model.tar.gz", Body=_archive("not read before the payloads"))
    s3.put_object(Bucket=bucket, Key="secret/payloads.tar.gz", Body=_archive("1,2,3"))
    container = {"Image": XGBOOST_IMAGE, "ModelDataUrl": f"s3://{bucket}/allowed/model.tar.gz"}
    sagemaker.create_model(ModelName=f"{model}-r", PrimaryContainer=container, ExecutionRoleArn=role_arn)
    payload = {
        "SamplePayloadUrl": f"s3://{bucket}/secret/payloads.tar.gz",
        "SupportedContentTypes": ["text/csv"],
    }
    sagemaker.create_inference_recommendations_job(
        JobName=model,
        JobType="Default",
        RoleArn=role_arn,
        InputConfig={"ModelName": f"{model}-r", "ContainerConfig": {"PayloadConfig": payload}},
    )
    described = _ended(
        lambda: sagemaker.describe_inference_recommendations_job(JobName=model),
        "Status",
        ("PENDING", "IN_PROGRESS", "STOPPING"),
    )
    assert described["Status"] == "FAILED", described
    assert described["FailureReason"].startswith(
        f"Could not read the sample payloads at s3://{bucket}/secret/payloads.tar.gz: AccessDenied"
    ), described
    sagemaker.delete_model(ModelName=f"{model}-r")

    # the endpoint answers only grants this Nimbus made
    answer = requests.get(
        f"{nimbus.endpoint_url}/_nimbus/credentials", headers={"Authorization": "x.y"}, timeout=30
    )
    assert answer.status_code == 403
    sagemaker.delete_model(ModelName=model)
    iam.delete_role_policy(RoleName=role_name, PolicyName="reads")
    iam.delete_role(RoleName=role_name)


def _push(ecr: Any, repository: str) -> None:
    """An image pushed through ECR's API (layer upload and PutImage) as a client without docker does."""
    layer_tar = io.BytesIO()
    tarfile.open(fileobj=layer_tar, mode="w").close()
    layer = gzip.compress(layer_tar.getvalue())
    config = json.dumps(
        {
            "architecture": "amd64",
            "os": "linux",
            "config": {"Entrypoint": ["/train"]},
            "rootfs": {"type": "layers", "diff_ids": [_digest(layer_tar.getvalue())]},
        }
    ).encode()
    for blob in (config, layer):
        upload = ecr.initiate_layer_upload(repositoryName=repository)["uploadId"]
        ecr.upload_layer_part(
            repositoryName=repository,
            uploadId=upload,
            partFirstByte=0,
            partLastByte=len(blob) - 1,
            layerPartBlob=blob,
        )
        ecr.complete_layer_upload(repositoryName=repository, uploadId=upload, layerDigests=[_digest(blob)])
    manifest = {
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {
            "mediaType": "application/vnd.oci.image.config.v1+json",
            "digest": _digest(config),
            "size": len(config),
        },
        "layers": [
            {
                "mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
                "digest": _digest(layer),
                "size": len(layer),
            }
        ],
    }
    ecr.put_image(repositoryName=repository, imageManifest=json.dumps(manifest), imageTag="v1")


def _digest(blob: bytes) -> str:
    return "sha256:" + hashlib.sha256(blob).hexdigest()


def test_job_image_is_pulled_as_its_role(nimbus: NimbusServer, bucket: str) -> None:
    """An image of Nimbus's registry is pulled with the execution role's ECR permissions, decided
    with the repository's policy: a role that may not pull it fails the job with SageMaker's
    ClientError; once the repository's policy lets it, the pull goes ahead."""
    iam, ecr, sagemaker = nimbus.client("iam"), nimbus.client("ecr"), nimbus.client("sagemaker")
    repository = f"pulled-{uuid.uuid4().hex[:8]}"
    ecr.create_repository(repositoryName=repository)
    _push(ecr, repository)
    role_name = f"puller-{uuid.uuid4().hex[:8]}"
    role_arn = iam.create_role(RoleName=role_name, AssumeRolePolicyDocument=json.dumps(TRUST))["Role"]["Arn"]
    login = {"Effect": "Allow", "Action": "ecr:GetAuthorizationToken", "Resource": "*"}
    iam.put_role_policy(
        RoleName=role_name,
        PolicyName="login",
        PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [login]}),
    )
    region = ecr.meta.region_name
    image = f"{nimbus.account_id}.dkr.ecr.{region}.amazonaws.com/{repository}:v1"

    def train(job: str) -> dict[str, Any]:
        sagemaker.create_training_job(
            TrainingJobName=job,
            AlgorithmSpecification={"TrainingImage": image, "TrainingInputMode": "File"},
            RoleArn=role_arn,
            OutputDataConfig={"S3OutputPath": f"s3://{bucket}/output"},
            ResourceConfig={"InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 1},
            StoppingCondition={"MaxRuntimeInSeconds": 60},
        )
        return _ended(lambda: sagemaker.describe_training_job(TrainingJobName=job), "TrainingJobStatus")

    try:
        described = train(f"pull-{uuid.uuid4().hex[:10]}")
        assert described["TrainingJobStatus"] == "Failed", described
        assert described["FailureReason"].startswith(
            f"ClientError: Access denied for repository: {repository} in registry ID: {nimbus.account_id}. "
            f"Please check if your ECR repository and image exist and role {role_arn} has proper pull "
            "permissions for SageMaker"
        ), described

        pulls = {
            "Effect": "Allow",
            "Principal": {"AWS": role_arn},
            "Action": ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"],
        }
        ecr.set_repository_policy(
            repositoryName=repository, policyText=json.dumps({"Version": "2012-10-17", "Statement": [pulls]})
        )
        described = train(f"pull-{uuid.uuid4().hex[:10]}")
        assert "Access denied for repository" not in described.get("FailureReason", ""), described
    finally:
        ecr.delete_repository(repositoryName=repository, force=True)
        iam.delete_role_policy(RoleName=role_name, PolicyName="login")
        iam.delete_role(RoleName=role_name)
