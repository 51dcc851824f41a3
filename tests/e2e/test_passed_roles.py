"""A role handed to SageMaker or EMR must exist and trust the service, as AWS requires: otherwise
the request is refused with the service's own error and nothing is created."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from botocore.exceptions import ClientError
from conftest import NimbusServer, error_code, http_status
from roles import EC2, emr_roles, execution_role

IMAGE = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost:1.7-1"


def _refused(operation: Any, **request: Any) -> str:
    with pytest.raises(ClientError) as caught:
        operation(**request)
    assert (error_code(caught), http_status(caught)) == ("ValidationException", 400)
    return str(caught.value.response["Error"]["Message"])


def test_roles_sagemaker_and_emr_cannot_assume_are_refused(nimbus: NimbusServer) -> None:
    sagemaker, emr, iam = nimbus.client("sagemaker"), nimbus.client("emr"), nimbus.client("iam")
    missing = f"arn:aws:iam::{nimbus.account_id}:role/missing-{uuid.uuid4().hex[:8]}"
    ec2_only = execution_role(iam, EC2)  # exists, but SageMaker may not assume it
    for role in (missing, ec2_only):
        name = f"refused-{uuid.uuid4().hex[:8]}"
        message = _refused(
            sagemaker.create_training_job,
            TrainingJobName=name,
            AlgorithmSpecification={"TrainingImage": IMAGE, "TrainingInputMode": "File"},
            RoleArn=role,
            HyperParameters={"num_round": "1"},
            OutputDataConfig={"S3OutputPath": "s3://nowhere/out"},
            ResourceConfig={"InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 1},
            StoppingCondition={"MaxRuntimeInSeconds": 60},
        )
        assert message == (
            f"Could not assume role {role}. Please ensure that the role exists and allows principal "
            "'sagemaker.amazonaws.com' to assume the role."
        )
        _refused(sagemaker.describe_training_job, TrainingJobName=name)  # nothing was created
        container = {"Image": IMAGE, "ModelDataUrl": "s3://nowhere/model.tar.gz"}
        assert role in _refused(
            sagemaker.create_model, ModelName=name, PrimaryContainer=container, ExecutionRoleArn=role
        )
        _refused(sagemaker.describe_model, ModelName=name)

    service_role, instance_profile = emr_roles(emr)
    iam.create_instance_profile(InstanceProfileName="empty-profile")  # a profile with no role
    cluster = {"Name": f"refused-{uuid.uuid4().hex[:8]}", "ReleaseLabel": "emr-7.2.0"}
    instances = {"MasterInstanceType": "m5.xlarge", "InstanceCount": 1}
    for job_flow_role, role, message in [
        ("empty-profile", service_role, "Invalid InstanceProfile: empty-profile."),
        ("no-such-profile", service_role, "Invalid InstanceProfile: no-such-profile."),
        (
            instance_profile,
            "NoSuchRole",
            f"EMR service role arn:aws:iam::{nimbus.account_id}:role/NoSuchRole is invalid",
        ),
    ]:
        refusal = _refused(
            emr.run_job_flow, **cluster, Instances=instances, JobFlowRole=job_flow_role, ServiceRole=role
        )
        assert refusal == message
    names = {summary["Name"] for summary in emr.list_clusters()["Clusters"]}
    assert cluster["Name"] not in names
    # a role SageMaker may assume is taken
    name, container = f"taken-{uuid.uuid4().hex[:8]}", {"Image": IMAGE, "ModelDataUrl": "s3://b/model.tar.gz"}
    trusted = execution_role(iam)
    sagemaker.create_model(ModelName=name, PrimaryContainer=container, ExecutionRoleArn=trusted)
    assert sagemaker.describe_model(ModelName=name)["ExecutionRoleArn"] == trusted
