"""Training on an augmented manifest (a Ground Truth output manifest) with boto3: the channel's pipe
streams each line's attributes as RecordIO records, the image of a ``-ref`` attribute read as the job's
role; File and FastFile channels are refused as AWS refuses them."""

from __future__ import annotations

import io
import json
import tarfile
import uuid
from typing import Any

import numpy as np
import pytest
from botocore.exceptions import ClientError
from conftest import NimbusServer, error_code, http_status
from job_support import gz_archive, training_job_ended
from PIL import Image
from roles import execution_role
from sagemaker.serializer_utils import read_recordio

from nimbus.services.sagemaker.augmented_manifests import RECORDIO_MAGIC, recordio

SKLEARN_IMAGE = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-scikit-learn:1.2-1-cpu-py3"
TRUST = {
    "Version": "2012-10-17",
    "Statement": [
        {"Effect": "Allow", "Principal": {"Service": "sagemaker.amazonaws.com"}, "Action": "sts:AssumeRole"}
    ],
}
# Reads the pipe as a RecordIO stream (pairs of image, label), trains on the images' pixels and keeps
# the stream and the channel's configuration beside the model for the test to compare.
SCRIPT = """
import io, json, shutil, struct
import joblib, numpy as np
from PIL import Image
from sklearn.linear_model import LogisticRegression

def records(path):
    with open(path, "rb") as stream:
        while header := stream.read(8):
            magic, length = struct.unpack("<II", header)
            assert magic == 0xCED7230A
            yield stream.read(length)
            stream.read(-length % 4)

stream = list(records("/opt/ml/input/data/train_0"))
images, labels = stream[0::2], [int(label) for label in stream[1::2]]
pixels = [np.asarray(Image.open(io.BytesIO(image)), dtype=float).ravel() / 255 for image in images]
model = LogisticRegression().fit(pixels, labels)
joblib.dump(model, "/opt/ml/model/model.joblib")
shutil.copyfile("/opt/ml/input/data/train_0", "/opt/ml/model/stream")
shutil.copyfile("/opt/ml/input/config/inputdataconfig.json", "/opt/ml/model/inputdataconfig.json")
print("trained on", len(images), "images, accuracy", model.score(pixels, labels), flush=True)
"""


def _png(shade: int, seed: int) -> bytes:
    noise = np.random.default_rng(seed).integers(-20, 20, (8, 8))
    image = Image.fromarray(np.clip(shade + noise, 0, 255).astype(np.uint8), mode="L")
    data = io.BytesIO()
    image.save(data, format="PNG")
    return data.getvalue()


def _labelled_images(s3: Any, bucket: str) -> tuple[list[bytes], list[int]]:
    """Eight images and the output manifest a Ground Truth image classification job writes for them."""
    images, labels, lines = [], [], []
    for index in range(8):
        label = index % 2
        image = _png(40 if label == 0 else 215, index)
        s3.put_object(Bucket=bucket, Key=f"images/{index}.png", Body=image)
        metadata = {
            "class-name": ["dark", "light"][label],
            "confidence": 1.0,
            "type": "groundtruth/image-classification",
            "job-name": "labeling-job/shades",
            "human-annotated": "yes",
            "creation-date": "2026-12-04T10:00:00.000000",
        }
        lines.append(
            {"source-ref": f"s3://{bucket}/images/{index}.png", "shade": label, "shade-metadata": metadata}
        )
        images.append(image)
        labels.append(label)
    body = "".join(json.dumps(line) + "\n" for line in lines)
    s3.put_object(Bucket=bucket, Key="shades/manifests/output/output.manifest", Body=body.encode())
    s3.put_object(
        Bucket=bucket, Key="source/sourcedir.tar.gz", Body=gz_archive({"train.py": SCRIPT.encode()})
    )
    return images, labels


def _role(iam: Any, bucket: str, readable: list[str]) -> str:
    name = f"labels-{uuid.uuid4().hex[:8]}"
    arn = iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(TRUST))["Role"]["Arn"]
    statements = [
        {
            "Effect": "Allow",
            "Action": "s3:GetObject",
            "Resource": [f"arn:aws:s3:::{bucket}/{p}" for p in readable],
        },
        {"Effect": "Allow", "Action": "s3:PutObject", "Resource": f"arn:aws:s3:::{bucket}/output/*"},
    ]
    iam.put_role_policy(
        RoleName=name,
        PolicyName="data",
        PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": statements}),
    )
    return arn


def _request(bucket: str, name: str, role: str, mode: str, **channel: Any) -> dict[str, Any]:
    source = {
        "S3DataType": "AugmentedManifestFile",
        "S3Uri": f"s3://{bucket}/shades/manifests/output/output.manifest",
        "AttributeNames": ["source-ref", "shade"],
    }
    return {
        "TrainingJobName": name,
        "AlgorithmSpecification": {"TrainingImage": SKLEARN_IMAGE, "TrainingInputMode": mode},
        "RoleArn": role,
        "HyperParameters": {
            "sagemaker_program": json.dumps("train.py"),
            "sagemaker_submit_directory": json.dumps(f"s3://{bucket}/source/sourcedir.tar.gz"),
        },
        "InputDataConfig": [
            {
                "ChannelName": "train",
                "DataSource": {"S3DataSource": source | channel.pop("source", {})},
                "ContentType": "application/x-recordio",
                "RecordWrapperType": "RecordIO",
                **channel,
            }
        ],
        "OutputDataConfig": {"S3OutputPath": f"s3://{bucket}/output"},
        "ResourceConfig": {"InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 1},
        "StoppingCondition": {"MaxRuntimeInSeconds": 300},
    }


def test_output_manifest_trains_through_the_pipe_as_the_role_reads_it(
    nimbus: NimbusServer, bucket: str
) -> None:
    iam, s3, sagemaker = nimbus.client("iam"), nimbus.client("s3"), nimbus.client("sagemaker")
    images, labels = _labelled_images(s3, bucket)
    role = _role(iam, bucket, ["shades/*", "images/*", "source/*"])
    name = f"augmented-{uuid.uuid4().hex[:8]}"
    sagemaker.create_training_job(**_request(bucket, name, role, "Pipe"))
    job = training_job_ended(sagemaker, name)
    assert job["TrainingJobStatus"] == "Completed", job.get("FailureReason")
    assert job["InputDataConfig"][0]["DataSource"]["S3DataSource"]["AttributeNames"] == [
        "source-ref",
        "shade",
    ]
    model_key = job["ModelArtifacts"]["S3ModelArtifacts"].removeprefix(f"s3://{bucket}/")
    model = s3.get_object(Bucket=bucket, Key=model_key)["Body"].read()
    with tarfile.open(fileobj=io.BytesIO(model)) as tar:
        stream = tar.extractfile("stream").read()  # type: ignore[union-attr]
        config = json.load(tar.extractfile("inputdataconfig.json"))  # type: ignore[arg-type]
    # the SageMaker SDK's own RecordIO reader sees, in manifest order, each image's bytes, then its label
    expected = [
        record for image, label in zip(images, labels, strict=True) for record in (image, str(label).encode())
    ]
    assert list(read_recordio(io.BytesIO(stream))) == expected
    assert config["train"]["TrainingInputMode"] == "Pipe"
    assert config["train"]["RecordWrapperType"] == "RecordIO"

    # a role that may read the manifest but not the images it names fails the job at the first image
    blind = _role(iam, bucket, ["shades/*", "source/*"])
    refused = f"augmented-{uuid.uuid4().hex[:8]}"
    sagemaker.create_training_job(**_request(bucket, refused, blind, "Pipe"))
    job = training_job_ended(sagemaker, refused)
    assert job["TrainingJobStatus"] == "Failed"
    assert job["FailureReason"].startswith("ClientError: Data download failed: AccessDenied"), job[
        "FailureReason"
    ]
    assert f"s3:GetObject on resource: arn:aws:s3:::{bucket}/images/0.png" in job["FailureReason"]


@pytest.mark.parametrize(
    ("mode", "channel", "message"),
    [
        ("File", {}, "can only be used if the channel's input mode is Pipe (it is File)"),
        (
            "Pipe",
            {"InputMode": "FastFile"},
            "can only be used if the channel's input mode is Pipe (it is FastFile)",
        ),
        ("Pipe", {"source": {"AttributeNames": []}}, "AttributeNames must name at least one attribute"),
    ],
)
def test_augmented_manifest_outside_pipe_mode_is_refused(
    nimbus: NimbusServer, bucket: str, mode: str, channel: dict[str, Any], message: str
) -> None:
    sagemaker = nimbus.client("sagemaker")
    name = f"augmented-{uuid.uuid4().hex[:8]}"
    role = execution_role(sagemaker)
    with pytest.raises(ClientError) as refused:
        sagemaker.create_training_job(**_request(bucket, name, role, mode, **channel))
    assert (error_code(refused), http_status(refused)) == ("ValidationException", 400)
    assert message in refused.value.response["Error"]["Message"]
    assert sagemaker.list_training_jobs(NameContains=name)["TrainingJobSummaries"] == []


def test_a_record_holding_the_recordio_magic_number_is_split_as_dmlc_splits_it() -> None:
    magic = RECORDIO_MAGIC.to_bytes(4, "little")

    def header(flag: int, length: int) -> bytes:
        return magic + (flag << 29 | length).to_bytes(4, "little")

    assert recordio(b"abcde") == header(0, 5) + b"abcde\0\0\0"
    # dmlc's writer cuts at the aligned magic number (first part flag 1, last part flag 3) and drops it;
    # a misaligned one is plain data
    assert recordio(b"abcd" + magic + b"ef") == header(1, 4) + b"abcd" + header(3, 2) + b"ef\0\0"
    assert recordio(b"a" + magic) == header(0, 5) + b"a" + magic + b"\0\0\0"
