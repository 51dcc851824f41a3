"""A bounded CI form of s3-tests' bucket policy and IAM user/group policy tests: seven of the 72 that
``bench/run.sh s3-conformance --part policies`` runs, copied from Ceph's s3-tests
(github.com/ceph/s3-tests, commit 8f0ae7b404a3a2fcf7038bf1e6bf29544fe9b6a3,
``s3tests/functional/test_s3.py`` and ``test_iam.py``), their bodies unchanged but for formatting,
run against the session's Nimbus through s3tests_glue.py and the two fixtures below (the suite's
markers are left out, as this repository does not define them). Chosen to cover what the policies part
checks: bucket policies granting another user, a policy copied between buckets, the owner's
protection from a self-denying policy and its ConfirmRemoveSelfBucketAccess opt-out, IAM's refusal of
malformed user policies, and inline and AWS managed group policies taking effect.

s3-tests is MIT-licensed: Copyright (c) 2011 New Dream Network, LLC; the permission notice is in
S3TESTS_LICENSE beside this file.
"""

# ruff: noqa: UP032, F841  (the suite's code as it is)

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from botocore.exceptions import ClientError
from conftest import NimbusServer
from s3tests_glue import (
    _get_status,
    _get_status_and_error_code,
    assert_raises,
    check_access_denied,
    configured,
    create_iam_user_s3client,
    get_alt_client,
    get_alt_user_id,
    get_client,
    get_iam_client,
    get_iam_path_prefix,
    get_iam_root_client,
    get_iam_s3client,
    get_new_bucket,
    get_new_bucket_name,
    make_iam_name,
    retry_on,
)


@pytest.fixture(scope="module", autouse=True)
def s3tests_users(nimbus: NimbusServer) -> Iterator[None]:
    yield from configured(nimbus)


@pytest.fixture
def iam_root() -> Iterator[Any]:
    """The account root's IAM client; afterwards the users, groups and roles under the session's path
    are removed (users leave their groups first, as AWS's DeleteUser requires)."""
    client = get_iam_root_client()
    yield client
    prefix = get_iam_path_prefix()
    for group in client.list_groups(PathPrefix=prefix)["Groups"]:
        name = group["GroupName"]
        for user in client.get_group(GroupName=name)["Users"]:
            client.remove_user_from_group(GroupName=name, UserName=user["UserName"])
        for policy in client.list_group_policies(GroupName=name)["PolicyNames"]:
            client.delete_group_policy(GroupName=name, PolicyName=policy)
        for attached in client.list_attached_group_policies(GroupName=name)["AttachedPolicies"]:
            client.detach_group_policy(GroupName=name, PolicyArn=attached["PolicyArn"])
        client.delete_group(GroupName=name)
    for user in client.list_users(PathPrefix=prefix)["Users"]:
        name = user["UserName"]
        for key in client.list_access_keys(UserName=name)["AccessKeyMetadata"]:
            client.delete_access_key(UserName=name, AccessKeyId=key["AccessKeyId"])
        client.delete_user(UserName=name)


def test_bucket_policy():
    bucket_name = get_new_bucket()
    client = get_client()
    key = "asdf"
    client.put_object(Bucket=bucket_name, Key=key, Body="asdf")

    resource1 = "arn:aws:s3:::" + bucket_name
    resource2 = "arn:aws:s3:::" + bucket_name + "/*"
    policy_document = json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"AWS": "*"},
                    "Action": "s3:ListBucket",
                    "Resource": ["{}".format(resource1), "{}".format(resource2)],
                }
            ],
        }
    )

    client.put_bucket_policy(Bucket=bucket_name, Policy=policy_document)

    alt_client = get_alt_client()
    response = alt_client.list_objects(Bucket=bucket_name)
    assert len(response["Contents"]) == 1


def test_bucket_policy_another_bucket():
    bucket_name = get_new_bucket()
    bucket_name2 = get_new_bucket()
    client = get_client()
    key = "asdf"
    key2 = "abcd"
    client.put_object(Bucket=bucket_name, Key=key, Body="asdf")
    client.put_object(Bucket=bucket_name2, Key=key2, Body="abcd")
    policy_document = json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"AWS": "*"},
                    "Action": "s3:ListBucket",
                    "Resource": ["arn:aws:s3:::*", "arn:aws:s3:::*/*"],
                }
            ],
        }
    )

    client.put_bucket_policy(Bucket=bucket_name, Policy=policy_document)
    response = client.get_bucket_policy(Bucket=bucket_name)
    response_policy = response["Policy"]

    client.put_bucket_policy(Bucket=bucket_name2, Policy=response_policy)

    alt_client = get_alt_client()
    response = alt_client.list_objects(Bucket=bucket_name)
    assert len(response["Contents"]) == 1

    alt_client = get_alt_client()
    response = alt_client.list_objects(Bucket=bucket_name2)
    assert len(response["Contents"]) == 1


def test_bucket_policy_deny_self_denied_policy(iam_root):
    root_client = get_iam_root_client(service_name="s3")
    bucket_name = get_new_bucket(root_client)

    resource1 = "arn:aws:s3:::" + bucket_name
    resource2 = "arn:aws:s3:::" + bucket_name + "/*"
    policy_document = json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Deny",
                    "Principal": "*",
                    "Action": [
                        "s3:PutBucketPolicy",
                        "s3:GetBucketPolicy",
                        "s3:DeleteBucketPolicy",
                    ],
                    "Resource": ["{}".format(resource1), "{}".format(resource2)],
                }
            ],
        }
    )

    root_client.put_bucket_policy(Bucket=bucket_name, Policy=policy_document)

    # non-root account should not be able to get, put or delete bucket policy
    root_alt_client = create_iam_user_s3client(iam_root)
    check_access_denied(root_alt_client.get_bucket_policy, Bucket=bucket_name)
    check_access_denied(root_alt_client.delete_bucket_policy, Bucket=bucket_name)
    check_access_denied(root_alt_client.put_bucket_policy, Bucket=bucket_name, Policy=policy_document)

    # root account should be able to get, put or delete bucket policy
    response = root_client.get_bucket_policy(Bucket=bucket_name)
    assert response["Policy"] == policy_document
    root_client.delete_bucket_policy(Bucket=bucket_name)
    root_client.put_bucket_policy(Bucket=bucket_name, Policy=policy_document)


def test_bucket_policy_deny_self_denied_policy_confirm_header(iam_root):
    root_client = get_iam_root_client(service_name="s3")
    bucket_name = get_new_bucket(root_client)

    resource1 = "arn:aws:s3:::" + bucket_name
    resource2 = "arn:aws:s3:::" + bucket_name + "/*"
    policy_document = json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Deny",
                    "Principal": "*",
                    "Action": [
                        "s3:PutBucketPolicy",
                        "s3:GetBucketPolicy",
                        "s3:DeleteBucketPolicy",
                    ],
                    "Resource": ["{}".format(resource1), "{}".format(resource2)],
                }
            ],
        }
    )

    root_client.put_bucket_policy(
        Bucket=bucket_name, Policy=policy_document, ConfirmRemoveSelfBucketAccess=True
    )

    # non-root account should not be able to get, put or delete bucket policy
    root_alt_client = create_iam_user_s3client(iam_root)
    check_access_denied(root_alt_client.get_bucket_policy, Bucket=bucket_name)
    check_access_denied(root_alt_client.delete_bucket_policy, Bucket=bucket_name)
    check_access_denied(root_alt_client.put_bucket_policy, Bucket=bucket_name, Policy=policy_document)

    # root account should not be able to get, put or delete bucket policy
    check_access_denied(root_client.get_bucket_policy, Bucket=bucket_name)
    check_access_denied(root_client.delete_bucket_policy, Bucket=bucket_name)
    check_access_denied(root_client.put_bucket_policy, Bucket=bucket_name, Policy=policy_document)


def test_put_user_policy_invalid_element():
    client = get_iam_client()

    # With Version other than 2012-10-17
    policy_document = json.dumps(
        {"Version": "2010-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}
    )
    e = assert_raises(
        ClientError,
        client.put_user_policy,
        PolicyDocument=policy_document,
        PolicyName="AllAccessPolicy",
        UserName=get_alt_user_id(),
    )
    status = _get_status(e.response)
    assert status == 400

    # With no Statement
    policy_document = json.dumps(
        {
            "Version": "2012-10-17",
        }
    )
    e = assert_raises(
        ClientError,
        client.put_user_policy,
        PolicyDocument=policy_document,
        PolicyName="AllAccessPolicy",
        UserName=get_alt_user_id(),
    )
    status = _get_status(e.response)
    assert status == 400

    # with same Sid for 2 statements
    policy_document = json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {"Sid": "98AB54CF", "Effect": "Allow", "Action": "*", "Resource": "*"},
                {"Sid": "98AB54CF", "Effect": "Allow", "Action": "*", "Resource": "*"},
            ],
        }
    )
    e = assert_raises(
        ClientError,
        client.put_user_policy,
        PolicyDocument=policy_document,
        PolicyName="AllAccessPolicy",
        UserName=get_alt_user_id(),
    )
    status = _get_status(e.response)
    assert status == 400

    # with Principal
    policy_document = json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {"Effect": "Allow", "Action": "*", "Resource": "*", "Principal": "arn:aws:iam:::username"}
            ],
        }
    )
    e = assert_raises(
        ClientError,
        client.put_user_policy,
        PolicyDocument=policy_document,
        PolicyName="AllAccessPolicy",
        UserName=get_alt_user_id(),
    )
    status = _get_status(e.response)
    assert status == 400


def test_account_inline_group_policy_allow(iam_root):
    path = get_iam_path_prefix()
    username = make_iam_name("User")
    groupname = make_iam_name("Group")
    bucket_name = get_new_bucket_name()

    iam_root.create_user(UserName=username, Path=path)

    key = iam_root.create_access_key(UserName=username)["AccessKey"]
    client = get_iam_s3client(
        aws_access_key_id=key["AccessKeyId"], aws_secret_access_key=key["SecretAccessKey"]
    )

    iam_root.create_group(GroupName=groupname, Path=path)
    iam_root.add_user_to_group(GroupName=groupname, UserName=username)

    # the access key may take a bit to start working. retry until it returns
    # something other than InvalidAccessKeyId
    e = assert_raises(ClientError, retry_on, "InvalidAccessKeyId", 10, client.list_buckets)
    # expect AccessDenied because no identity policy allows s3 actions
    status, error_code = _get_status_and_error_code(e.response)
    assert status == 403
    assert error_code == "AccessDenied"

    # add a group policy that allows s3 actions
    policy = json.dumps(
        {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]}
    )
    policy_name = "AllowStar"
    iam_root.put_group_policy(GroupName=groupname, PolicyName=policy_name, PolicyDocument=policy)

    # the policy may take a bit to start working. retry until it returns
    # something other than AccessDenied
    retry_on("AccessDenied", 10, client.list_buckets)


def test_account_managed_group_policy_allow(iam_root):
    path = get_iam_path_prefix()
    username = make_iam_name("User")
    groupname = make_iam_name("Group")
    bucket_name = get_new_bucket_name()

    iam_root.create_user(UserName=username, Path=path)

    key = iam_root.create_access_key(UserName=username)["AccessKey"]
    client = get_iam_s3client(
        aws_access_key_id=key["AccessKeyId"], aws_secret_access_key=key["SecretAccessKey"]
    )

    iam_root.create_group(GroupName=groupname, Path=path)
    iam_root.add_user_to_group(GroupName=groupname, UserName=username)

    # the access key may take a bit to start working. retry until it returns
    # something other than InvalidAccessKeyId
    e = assert_raises(ClientError, retry_on, "InvalidAccessKeyId", 10, client.list_buckets)
    # expect AccessDenied because no identity policy allows s3 actions
    status, error_code = _get_status_and_error_code(e.response)
    assert status == 403
    assert error_code == "AccessDenied"

    # add a group policy that allows s3 read actions
    policy_arn = "arn:aws:iam::aws:policy/AmazonS3ReadOnlyAccess"
    iam_root.attach_group_policy(GroupName=groupname, PolicyArn=policy_arn)

    # the policy may take a bit to start working. retry until it returns
    # something other than AccessDenied
    retry_on("AccessDenied", 10, client.list_buckets)
