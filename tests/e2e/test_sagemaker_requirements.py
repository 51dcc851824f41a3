"""Script mode's requirements.txt: installed from the package index into an environment of the job's
own, which the next job with the same file reuses; an index that cannot be reached fails the job
with a reason that says so."""

from __future__ import annotations

import io
import json
import tarfile
import time
import uuid
from typing import Any

import pytest
from conftest import NimbusServer
from roles import execution_role

SKLEARN_IMAGE = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-scikit-learn:1.2-1-cpu-py3"
# a small pure-Python package that Nimbus itself does not have
SCRIPT = """
import os, sklearn, tomli_w
with open(os.path.join(os.environ["SM_MODEL_DIR"], "out.toml"), "w") as out:
    out.write(tomli_w.dumps({"sklearn": sklearn.__version__}))
"""


@pytest.fixture(scope="module")
def bucket(nimbus: NimbusServer) -> str:
    name = f"requirements-{uuid.uuid4().hex[:10]}"
    nimbus.client("s3").create_bucket(Bucket=name)
    return name


def _source(requirements: str) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        for name, text in (("train.py", SCRIPT), ("requirements.txt", requirements)):
            info = tarfile.TarInfo(name)
            info.size = len(text.encode())
            archive.addfile(info, io.BytesIO(text.encode()))
    return buffer.getvalue()


def _job(nimbus: NimbusServer, bucket: str, requirements: str) -> tuple[dict[str, Any], list[str]]:
    s3, sagemaker = nimbus.client("s3"), nimbus.client("sagemaker")
    name = f"requirements-{uuid.uuid4().hex[:10]}"
    s3.put_object(Bucket=bucket, Key=f"{name}/sourcedir.tar.gz", Body=_source(requirements))
    sagemaker.create_training_job(
        TrainingJobName=name,
        AlgorithmSpecification={"TrainingImage": SKLEARN_IMAGE, "TrainingInputMode": "File"},
        RoleArn=execution_role(sagemaker),
        HyperParameters={
            "sagemaker_program": json.dumps("train.py"),
            "sagemaker_submit_directory": json.dumps(f"s3://{bucket}/{name}/sourcedir.tar.gz"),
        },
        OutputDataConfig={"S3OutputPath": f"s3://{bucket}/output"},
        ResourceConfig={"InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 1},
        StoppingCondition={"MaxRuntimeInSeconds": 600},
    )
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline:
        job: dict[str, Any] = sagemaker.describe_training_job(TrainingJobName=name)
        if job["TrainingJobStatus"] in ("Completed", "Failed", "Stopped"):
            events = nimbus.client("logs").filter_log_events(
                logGroupName="/aws/sagemaker/TrainingJobs", logStreamNamePrefix=f"{name}/"
            )["events"]
            return job, [event["message"] for event in events]
        time.sleep(0.3)
    raise AssertionError(f"{name} did not end")


def test_requirements_are_installed_once_and_reused(nimbus: NimbusServer, bucket: str) -> None:
    first, first_log = _job(nimbus, bucket, "tomli_w==1.0.0\n")
    assert first["TrainingJobStatus"] == "Completed", first.get("FailureReason")
    assert any(line.startswith("requirements.txt: installed into the environment") for line in first_log)
    second, second_log = _job(nimbus, bucket, "tomli_w==1.0.0\n")
    assert second["TrainingJobStatus"] == "Completed", second.get("FailureReason")
    assert any(line.endswith("is already installed (cached)") for line in second_log)


def test_unreachable_index_fails_the_job_clearly(nimbus: NimbusServer, bucket: str) -> None:
    job, _ = _job(nimbus, bucket, "--index-url http://127.0.0.1:9/simple\ntomli_w==1.0.0\n")
    assert job["TrainingJobStatus"] == "Failed"
    assert job["FailureReason"].startswith("ClientError: pip could not install requirements.txt")
    assert "NIMBUS_PIP_INDEX_URL" in job["FailureReason"]
