"""The execution roles tests hand to SageMaker and EMR. Nimbus, like AWS, refuses a role that does
not exist or does not trust the service, so a test creates its role in IAM first, as a user sets up
an account. The roles may do everything: tests of what a role may not do create their own."""

from __future__ import annotations

import json
from typing import Any

import boto3
from botocore.exceptions import ClientError

SAGEMAKER = "sagemaker.amazonaws.com"
EMR = "elasticmapreduce.amazonaws.com"
EC2 = "ec2.amazonaws.com"
EMR_SERVICE_ROLE = "EMR_DefaultRole"
EMR_INSTANCE_PROFILE = (
    "EMR_EC2_DefaultRole"  # the instance profile and its role, named as `aws emr create-default-roles` does
)
_EVERYTHING = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}
_made: dict[
    tuple[str, str, str], str
] = {}  # (endpoint, access key, role) -> ARN, so a second call asks nobody


def execution_role(client: Any, *services: str, name: str = "") -> str:
    """The ARN of a role that ``services`` (SageMaker's by default) may assume and that may do
    everything, created on first use in the Nimbus that ``client`` (any boto3 client) talks to."""
    services = services or (SAGEMAKER,)
    name = name or "NimbusTest-" + "-".join(sorted(service.split(".", 1)[0] for service in services))
    credentials = client._request_signer._credentials  # the same caller as the test's client
    key = (client.meta.endpoint_url, credentials.access_key, name)
    if key not in _made:
        _made[key] = _ensure_role(_iam(client), name, services)
    return _made[key]


def emr_roles(client: Any) -> tuple[str, str]:
    """(ServiceRole, JobFlowRole) for RunJobFlow: EMR's default role names, created on first use."""
    execution_role(client, EMR, name=EMR_SERVICE_ROLE)
    execution_role(client, EC2, name=EMR_INSTANCE_PROFILE)
    iam = _iam(client)
    try:
        iam.create_instance_profile(InstanceProfileName=EMR_INSTANCE_PROFILE)
        iam.add_role_to_instance_profile(
            InstanceProfileName=EMR_INSTANCE_PROFILE, RoleName=EMR_INSTANCE_PROFILE
        )
    except ClientError as error:
        if error.response["Error"]["Code"] != "EntityAlreadyExists":
            raise
    return EMR_SERVICE_ROLE, EMR_INSTANCE_PROFILE


def _ensure_role(iam: Any, name: str, services: tuple[str, ...]) -> str:
    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Principal": {"Service": list(services)}, "Action": "sts:AssumeRole"}
        ],
    }
    try:
        arn = iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(trust))["Role"]["Arn"]
    except ClientError as error:
        if error.response["Error"]["Code"] != "EntityAlreadyExists":
            raise
        arn = iam.get_role(RoleName=name)["Role"]["Arn"]
    iam.put_role_policy(RoleName=name, PolicyName="everything", PolicyDocument=json.dumps(_EVERYTHING))
    return arn


def _iam(client: Any) -> Any:
    credentials = client._request_signer._credentials.get_frozen_credentials()
    return boto3.client(
        "iam",
        endpoint_url=client.meta.endpoint_url,
        region_name=client.meta.region_name,
        aws_access_key_id=credentials.access_key,
        aws_secret_access_key=credentials.secret_key,
        aws_session_token=credentials.token,
        config=client.meta.config,
    )
