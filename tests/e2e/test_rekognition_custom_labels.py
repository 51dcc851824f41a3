"""Rekognition Custom Labels through boto3 against a real server: scikit-learn's handwritten digits
(0-3, upscaled to 96x96 PNGs) in Ground Truth manifests, a model trained, evaluated, started, asked
about digits it never saw (at each label's assumed threshold, as a client that gives no MinConfidence
gets them), stopped and deleted."""

from __future__ import annotations

import io
import json
import time
import uuid
from typing import Any

import numpy as np
import pytest
from botocore.exceptions import ClientError
from conftest import NimbusServer, error_code
from PIL import Image
from sklearn.datasets import load_digits

DIGITS = (0, 1, 2, 3)
TRAIN_PER_DIGIT, TEST_PER_DIGIT, HELD_OUT_PER_DIGIT = 24, 8, 8
MIN_HELD_OUT_ACCURACY = 0.9  # issue 13's aim; this split scores 31 of 32 offline, and 28 of 32 (a
# failure here) with the ImageNet logits that Custom Labels learnt from before
STATUS_TIMEOUT_S = 180


def digit_png(pixels: np.ndarray) -> bytes:
    """Dark ink on white, 8x8 scaled to 96x96 (the features come from a photo classifier)."""
    ink = (255 - pixels / 16 * 255).astype(np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(ink).resize((96, 96), Image.Resampling.BILINEAR).convert("RGB").save(buffer, "PNG")
    return buffer.getvalue()


def manifest_line(bucket: str, key: str, digit: int) -> str:
    """One line as AWS's CSV-to-manifest tool writes it (image-level classification)."""
    return json.dumps(
        {
            "source-ref": f"s3://{bucket}/{key}",
            "digit": 1,
            "digit-metadata": {
                "confidence": 1,
                "job-name": "labeling-job/digits",
                "class-name": str(digit),
                "human-annotated": "yes",
                "creation-date": "2026-01-01T00:00:00",
                "type": "groundtruth/image-classification",
            },
        }
    )


@pytest.fixture(scope="module")
def rekognition(nimbus: NimbusServer) -> Any:
    return nimbus.client("rekognition")


@pytest.fixture(scope="module")
def digits(nimbus: NimbusServer) -> dict[str, Any]:
    """Images in S3, TRAIN and TEST manifests, and held-out images (bytes, digit)."""
    s3 = nimbus.client("s3")
    bucket = f"digits-{uuid.uuid4().hex[:8]}"
    s3.create_bucket(Bucket=bucket)
    data = load_digits()
    manifests: dict[str, list[str]] = {"train": [], "test": []}
    held_out = []
    for digit in DIGITS:
        indices = np.nonzero(data.target == digit)[0]
        for position, index in enumerate(indices[: TRAIN_PER_DIGIT + TEST_PER_DIGIT + HELD_OUT_PER_DIGIT]):
            png = digit_png(data.images[index])
            if position >= TRAIN_PER_DIGIT + TEST_PER_DIGIT:
                held_out.append((png, str(digit)))
                continue
            split = "train" if position < TRAIN_PER_DIGIT else "test"
            key = f"images/{digit}/{index}.png"
            s3.put_object(Bucket=bucket, Key=key, Body=png)
            manifests[split].append(manifest_line(bucket, key, digit))
    for split, lines in manifests.items():
        s3.put_object(Bucket=bucket, Key=f"{split}.manifest", Body="\n".join(lines).encode())
    return {"bucket": bucket, "held_out": held_out}


def wait_for(rekognition: Any, project_arn: str, version: str, statuses: set[str]) -> dict[str, Any]:
    deadline = time.monotonic() + STATUS_TIMEOUT_S
    while True:
        (found,) = rekognition.describe_project_versions(ProjectArn=project_arn, VersionNames=[version])[
            "ProjectVersionDescriptions"
        ]
        if found["Status"] in statuses or time.monotonic() > deadline:
            return found
        time.sleep(0.5)


def manifest_dataset(rekognition: Any, project_arn: str, kind: str, bucket: str, key: str) -> str:
    source = {"GroundTruthManifest": {"S3Object": {"Bucket": bucket, "Name": key}}}
    return rekognition.create_dataset(ProjectArn=project_arn, DatasetType=kind, DatasetSource=source)[
        "DatasetArn"
    ]


def test_train_evaluate_start_detect_stop(
    nimbus: NimbusServer, rekognition: Any, digits: dict[str, Any]
) -> None:
    bucket = digits["bucket"]
    name = f"digits-{uuid.uuid4().hex[:8]}"
    project_arn = rekognition.create_project(ProjectName=name)["ProjectArn"]
    train_arn = manifest_dataset(rekognition, project_arn, "TRAIN", bucket, "train.manifest")
    manifest_dataset(rekognition, project_arn, "TEST", bucket, "test.manifest")
    stats = rekognition.describe_dataset(DatasetArn=train_arn)["DatasetDescription"]
    assert stats["Status"] == "CREATE_COMPLETE"
    assert stats["DatasetStats"]["TotalEntries"] == len(DIGITS) * TRAIN_PER_DIGIT
    assert stats["DatasetStats"]["TotalLabels"] == len(DIGITS)
    (project,) = rekognition.describe_projects(ProjectNames=[name])["ProjectDescriptions"]
    assert {dataset["DatasetType"] for dataset in project["Datasets"]} == {"TRAIN", "TEST"}

    version_arn = rekognition.create_project_version(
        ProjectArn=project_arn, VersionName="v1", OutputConfig={"S3Bucket": bucket, "S3KeyPrefix": "output/"}
    )["ProjectVersionArn"]
    with pytest.raises(ClientError) as not_running:
        rekognition.detect_custom_labels(
            ProjectVersionArn=version_arn, Image={"Bytes": digits["held_out"][0][0]}
        )
    assert error_code(not_running) == "ResourceNotReadyException"
    trained = wait_for(rekognition, project_arn, "v1", {"TRAINING_COMPLETED", "TRAINING_FAILED"})
    assert trained["Status"] == "TRAINING_COMPLETED", trained.get("StatusMessage")
    assert trained["EvaluationResult"]["F1Score"] > 0.75
    summary_object = trained["EvaluationResult"]["Summary"]["S3Object"]
    s3 = nimbus.client("s3")
    summary = json.loads(
        s3.get_object(Bucket=summary_object["Bucket"], Key=summary_object["Name"])["Body"].read()
    )
    assert summary["EvaluationDetails"]["NumberOfTestingImages"] == len(DIGITS) * TEST_PER_DIGIT
    assert summary["EvaluationDetails"]["NumberOfTrainingImages"] == len(DIGITS) * TRAIN_PER_DIGIT
    thresholds = {
        result["Label"]: result["Metrics"]["Threshold"] for result in summary["LabelEvaluationResults"]
    }
    assert set(thresholds) == {str(digit) for digit in DIGITS}
    assert all(0 < threshold < 1 for threshold in thresholds.values())

    assert (
        rekognition.start_project_version(ProjectVersionArn=version_arn, MinInferenceUnits=1)["Status"]
        == "STARTING"
    )
    assert wait_for(rekognition, project_arn, "v1", {"RUNNING", "FAILED"})["Status"] == "RUNNING"
    correct = 0
    for png, digit in digits["held_out"]:
        labels = rekognition.detect_custom_labels(ProjectVersionArn=version_arn, Image={"Bytes": png})[
            "CustomLabels"
        ]
        assert all(label["Confidence"] >= 100 * thresholds[label["Name"]] for label in labels)
        correct += bool(labels) and labels[0]["Name"] == digit
    assert correct / len(digits["held_out"]) >= MIN_HELD_OUT_ACCURACY
    every_label = rekognition.detect_custom_labels(
        ProjectVersionArn=version_arn, Image={"Bytes": digits["held_out"][0][0]}, MinConfidence=0
    )["CustomLabels"]
    assert sorted(label["Name"] for label in every_label) == sorted(thresholds)
    confidences = [label["Confidence"] for label in every_label]
    assert confidences == sorted(confidences, reverse=True) and abs(sum(confidences) - 100) < 0.1

    with pytest.raises(ClientError) as in_use:
        rekognition.delete_project(ProjectArn=project_arn)
    assert error_code(in_use) == "ResourceInUseException"
    assert rekognition.stop_project_version(ProjectVersionArn=version_arn)["Status"] == "STOPPING"
    assert wait_for(rekognition, project_arn, "v1", {"STOPPED"})["Status"] == "STOPPED"
    assert rekognition.delete_project_version(ProjectVersionArn=version_arn)["Status"] == "DELETING"
    assert rekognition.delete_project(ProjectArn=project_arn)["Status"] == "DELETING"
    assert rekognition.describe_projects(ProjectNames=[name])["ProjectDescriptions"] == []


def test_datasets_split_and_list(nimbus: NimbusServer, rekognition: Any, digits: dict[str, Any]) -> None:
    bucket = digits["bucket"]
    project_arn = rekognition.create_project(ProjectName=f"split-{uuid.uuid4().hex[:8]}")["ProjectArn"]
    with pytest.raises(ClientError) as twice:
        rekognition.create_project(ProjectName=project_arn.split("/")[1])
    assert error_code(twice) == "ResourceInUseException"
    train_arn = manifest_dataset(rekognition, project_arn, "TRAIN", bucket, "train.manifest")
    test_arn = rekognition.create_dataset(ProjectArn=project_arn, DatasetType="TEST")["DatasetArn"]
    rekognition.distribute_dataset_entries(Datasets=[{"Arn": train_arn}, {"Arn": test_arn}])
    train_total = rekognition.describe_dataset(DatasetArn=train_arn)["DatasetDescription"]["DatasetStats"]
    test_total = rekognition.describe_dataset(DatasetArn=test_arn)["DatasetDescription"]["DatasetStats"]
    assert test_total["TotalEntries"] == len(DIGITS) * (TRAIN_PER_DIGIT // 5)  # one in five of each digit
    assert train_total["TotalEntries"] + test_total["TotalEntries"] == len(DIGITS) * TRAIN_PER_DIGIT
    assert test_total["TotalLabels"] == len(DIGITS)

    labels = rekognition.list_dataset_labels(DatasetArn=test_arn)["DatasetLabelDescriptions"]
    assert {label["LabelName"]: label["LabelStats"]["EntryCount"] for label in labels} == {
        str(digit): TRAIN_PER_DIGIT // 5 for digit in DIGITS
    }
    relabelled = json.loads(
        rekognition.list_dataset_entries(DatasetArn=test_arn, ContainsLabels=["0"], MaxResults=1)[
            "DatasetEntries"
        ][0]
    )
    relabelled["digit-metadata"]["class-name"] = "zero"
    rekognition.update_dataset_entries(
        DatasetArn=test_arn, Changes={"GroundTruth": json.dumps(relabelled).encode()}
    )
    relabelled_stats = rekognition.describe_dataset(DatasetArn=test_arn)["DatasetDescription"]
    assert relabelled_stats["Status"] == "UPDATE_COMPLETE"
    assert relabelled_stats["DatasetStats"]["TotalEntries"] == test_total["TotalEntries"]
    assert relabelled_stats["DatasetStats"]["TotalLabels"] == len(DIGITS) + 1

    ones = rekognition.list_dataset_entries(DatasetArn=train_arn, ContainsLabels=["1"])["DatasetEntries"]
    assert ones and all(json.loads(line)["digit-metadata"]["class-name"] == "1" for line in ones)
    pages, token = [], None
    while True:
        page = rekognition.list_dataset_entries(
            DatasetArn=train_arn, MaxResults=25, **({"NextToken": token} if token else {})
        )
        pages += page["DatasetEntries"]
        token = page.get("NextToken")
        if not token:
            break
    assert len(pages) == train_total["TotalEntries"]

    s3 = nimbus.client("s3")
    s3.put_object(Bucket=bucket, Key="broken.manifest", Body=b"not json\n")
    broken = manifest_dataset(
        rekognition,
        rekognition.create_project(ProjectName=f"broken-{uuid.uuid4().hex[:8]}")["ProjectArn"],
        "TRAIN",
        bucket,
        "broken.manifest",
    )
    description = rekognition.describe_dataset(DatasetArn=broken)["DatasetDescription"]
    assert description["Status"] == "CREATE_FAILED" and "JSON" in description["StatusMessage"]
    with pytest.raises(ClientError) as missing:
        manifest_dataset(rekognition, project_arn, "TRAIN", bucket, "nothing.manifest")
    assert error_code(missing) == "InvalidS3ObjectException"
