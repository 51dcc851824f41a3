"""IAM roles with boto3: create, read, list, update the trust policy, simulate, delete, and the
errors AWS gives for a missing role, a duplicate one and a malformed policy."""

from __future__ import annotations

import json
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError
from conftest import NimbusServer, error_code, http_status

SAGEMAKER_TRUST = {
    "Version": "2012-10-17",
    "Statement": [
        {"Effect": "Allow", "Principal": {"Service": "sagemaker.amazonaws.com"}, "Action": "sts:AssumeRole"}
    ],
}


@pytest.fixture(scope="module")
def iam(nimbus: NimbusServer) -> Any:
    return nimbus.client("iam")


@pytest.fixture
def role_name(iam: Any) -> Iterator[str]:
    """A fresh role name; the role is deleted afterwards if the test created it."""
    name = f"role-{uuid.uuid4().hex[:12]}"
    yield name
    try:
        iam.delete_role(RoleName=name)
    except ClientError as error:
        assert error_code(error) == "NoSuchEntity"


def test_create_get_list_delete(nimbus: NimbusServer, iam: Any, role_name: str) -> None:
    created = iam.create_role(
        RoleName=role_name,
        Path="/service-role/",
        AssumeRolePolicyDocument=json.dumps(SAGEMAKER_TRUST),
        Description="SageMaker execution role",
        MaxSessionDuration=7200,
        Tags=[{"Key": "team", "Value": "ml"}],
    )["Role"]
    arn = f"arn:aws:iam::{nimbus.account_id}:role/service-role/{role_name}"
    assert created["Arn"] == arn
    assert created["RoleId"].startswith("AROA") and len(created["RoleId"]) == 21
    assert created["AssumeRolePolicyDocument"] == SAGEMAKER_TRUST  # botocore decodes IAM's URL-encoded JSON

    fetched = iam.get_role(RoleName=role_name.upper())["Role"]  # role names ignore case
    assert fetched["RoleName"] == role_name
    assert fetched["RoleId"] == created["RoleId"]
    assert fetched["CreateDate"] == created["CreateDate"]
    assert fetched["Description"] == "SageMaker execution role"
    assert fetched["MaxSessionDuration"] == 7200
    assert fetched["Tags"] == [{"Key": "team", "Value": "ml"}]
    assert fetched["AssumeRolePolicyDocument"] == SAGEMAKER_TRUST

    listed = [role for role in _all_roles(iam, PathPrefix="/service-role/") if role["RoleName"] == role_name]
    assert [role["Arn"] for role in listed] == [arn]
    assert not [role for role in _all_roles(iam, PathPrefix="/other/") if role["RoleName"] == role_name]

    iam.delete_role(RoleName=role_name)
    with pytest.raises(ClientError) as caught:
        iam.get_role(RoleName=role_name)
    assert error_code(caught) == "NoSuchEntity"
    assert http_status(caught) == 404


def test_roles_are_global(nimbus: NimbusServer, iam: Any, role_name: str) -> None:
    """IAM has no regions: a client configured for another region sees the same roles."""
    iam.create_role(RoleName=role_name, AssumeRolePolicyDocument=json.dumps(SAGEMAKER_TRUST))
    elsewhere = nimbus.client("iam", region_name="eu-west-1")
    assert elsewhere.get_role(RoleName=role_name)["Role"]["RoleName"] == role_name


def test_list_roles_pages(iam: Any) -> None:
    names = [f"page-{uuid.uuid4().hex[:8]}-{index}" for index in range(3)]
    for name in names:
        iam.create_role(RoleName=name, Path="/paging/", AssumeRolePolicyDocument=json.dumps(SAGEMAKER_TRUST))
    try:
        first = iam.list_roles(PathPrefix="/paging/", MaxItems=2)
        assert first["IsTruncated"] is True and len(first["Roles"]) == 2
        second = iam.list_roles(PathPrefix="/paging/", MaxItems=2, Marker=first["Marker"])
        assert second["IsTruncated"] is False
        assert sorted(r["RoleName"] for r in first["Roles"] + second["Roles"]) == sorted(names)
        assert "Tags" not in first["Roles"][0]  # ListRoles leaves tags out, as AWS does
    finally:
        for name in names:
            iam.delete_role(RoleName=name)


def test_update_assume_role_policy(iam: Any, role_name: str) -> None:
    iam.create_role(RoleName=role_name, AssumeRolePolicyDocument=json.dumps(SAGEMAKER_TRUST))
    trust = {**SAGEMAKER_TRUST, "Statement": [{**SAGEMAKER_TRUST["Statement"][0], "Principal": {"AWS": "*"}}]}
    iam.update_assume_role_policy(RoleName=role_name, PolicyDocument=json.dumps(trust))
    assert iam.get_role(RoleName=role_name)["Role"]["AssumeRolePolicyDocument"] == trust


def test_simulate_principal_policy(nimbus: NimbusServer, iam: Any, role_name: str) -> None:
    arn = iam.create_role(RoleName=role_name, AssumeRolePolicyDocument=json.dumps(SAGEMAKER_TRUST))["Role"][
        "Arn"
    ]
    actions = ["sagemaker:CreateTrainingJob", "s3:PutObject"]

    results = iam.simulate_principal_policy(PolicySourceArn=arn, ActionNames=actions)["EvaluationResults"]
    assert [(r["EvalActionName"], r["EvalResourceName"], r["EvalDecision"]) for r in results] == [
        ("sagemaker:CreateTrainingJob", "*", "implicitDeny"),  # a new role may do nothing
        ("s3:PutObject", "*", "implicitDeny"),
    ]
    allow_all = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}
    iam.put_role_policy(RoleName=role_name, PolicyName="everything", PolicyDocument=json.dumps(allow_all))
    results = iam.simulate_principal_policy(PolicySourceArn=arn, ActionNames=actions)["EvaluationResults"]
    assert [r["EvalDecision"] for r in results] == ["allowed", "allowed"]
    assert results[0]["MatchedStatements"][0]["SourcePolicyId"].endswith("everything")

    deny_s3 = {"Version": "2012-10-17", "Statement": [{"Effect": "Deny", "Action": "S3:*", "Resource": "*"}]}
    results = iam.simulate_principal_policy(
        PolicySourceArn=arn, ActionNames=actions, PolicyInputList=[json.dumps(deny_s3)]
    )["EvaluationResults"]
    assert [r["EvalDecision"] for r in results] == ["allowed", "explicitDeny"]

    only_bucket = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "arn:aws:s3:::data/*"}],
    }
    results = iam.simulate_principal_policy(
        PolicySourceArn=arn,
        ActionNames=["s3:PutObject"],
        ResourceArns=["arn:aws:s3:::data/key", "arn:aws:s3:::other/key"],
        PermissionsBoundaryPolicyInputList=[json.dumps(only_bucket)],
    )["EvaluationResults"]
    assert [r["EvalDecision"] for r in results] == ["allowed", "implicitDeny"]

    pages = iam.get_paginator("simulate_principal_policy").paginate(
        PolicySourceArn=arn, ActionNames=[f"s3:Action{i}" for i in range(5)], PaginationConfig={"PageSize": 2}
    )
    assert [len(page["EvaluationResults"]) for page in pages] == [2, 2, 1]

    missing = f"arn:aws:iam::{nimbus.account_id}:role/missing-{uuid.uuid4().hex[:8]}"
    with pytest.raises(ClientError) as caught:
        iam.simulate_principal_policy(PolicySourceArn=missing, ActionNames=actions)
    assert error_code(caught) == "NoSuchEntity"
    with pytest.raises(ClientError) as caught:
        iam.simulate_principal_policy(
            PolicySourceArn=f"arn:aws:iam::{nimbus.account_id}:root", ActionNames=actions
        )
    assert error_code(caught) == "InvalidInput"
    iam.delete_role_policy(RoleName=role_name, PolicyName="everything")


def test_missing_role_is_no_such_entity(iam: Any) -> None:
    name = f"missing-{uuid.uuid4().hex[:8]}"
    for call in (
        lambda: iam.get_role(RoleName=name),
        lambda: iam.delete_role(RoleName=name),
        lambda: iam.update_assume_role_policy(RoleName=name, PolicyDocument=json.dumps(SAGEMAKER_TRUST)),
    ):
        with pytest.raises(ClientError) as caught:
            call()
        assert error_code(caught) == "NoSuchEntity"
        assert http_status(caught) == 404
        assert name in caught.value.response["Error"]["Message"]


def test_duplicate_role_is_entity_already_exists(iam: Any, role_name: str) -> None:
    first = iam.create_role(RoleName=role_name, AssumeRolePolicyDocument=json.dumps(SAGEMAKER_TRUST))["Role"]
    with pytest.raises(ClientError) as caught:
        iam.create_role(RoleName=role_name.upper(), AssumeRolePolicyDocument=json.dumps(SAGEMAKER_TRUST))
    assert error_code(caught) == "EntityAlreadyExists"
    assert http_status(caught) == 409
    assert iam.get_role(RoleName=role_name)["Role"]["RoleId"] == first["RoleId"]  # the first one is intact


@pytest.mark.parametrize(
    "document",
    [
        "not json",
        json.dumps({"Version": "2012-10-17"}),
        json.dumps(
            {"Statement": [{"Effect": "Maybe", "Principal": {"Service": "x"}, "Action": "sts:AssumeRole"}]}
        ),
        json.dumps({"Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole"}]}),
    ],
)
def test_malformed_trust_policy_changes_nothing(iam: Any, role_name: str, document: str) -> None:
    with pytest.raises(ClientError) as caught:
        iam.create_role(RoleName=role_name, AssumeRolePolicyDocument=document)
    assert error_code(caught) == "MalformedPolicyDocument"
    assert http_status(caught) == 400
    with pytest.raises(ClientError) as caught:
        iam.get_role(RoleName=role_name)
    assert error_code(caught) == "NoSuchEntity"


def test_invalid_role_name_is_validation_error(iam: Any) -> None:
    with pytest.raises(ClientError) as caught:
        iam.create_role(RoleName="bad name!", AssumeRolePolicyDocument=json.dumps(SAGEMAKER_TRUST))
    assert error_code(caught) == "ValidationError"
    assert http_status(caught) == 400


def test_iam_cli(nimbus: NimbusServer, role_name: str) -> None:
    """The AWS CLI reaches IAM through AWS_ENDPOINT_URL like any other service."""
    trust = json.dumps(SAGEMAKER_TRUST)
    created = _aws_cli(
        nimbus, "create-role", "--role-name", role_name, "--assume-role-policy-document", trust
    )
    assert created["Role"]["RoleName"] == role_name
    fetched = _aws_cli(nimbus, "get-role", "--role-name", role_name)
    assert fetched["Role"]["AssumeRolePolicyDocument"] == SAGEMAKER_TRUST


def _aws_cli(nimbus: NimbusServer, *args: str) -> Any:
    aws = Path(sys.executable).parent / "aws"
    proc = subprocess.run(
        [sys.executable, str(aws), "iam", *args, "--output", "json"],
        env=nimbus.env(),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def _all_roles(iam: Any, **kw: Any) -> list[dict[str, Any]]:
    return [role for page in iam.get_paginator("list_roles").paginate(**kw) for role in page["Roles"]]
