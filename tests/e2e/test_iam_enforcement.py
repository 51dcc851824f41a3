"""IAM enforced on every request, seen from boto3 as different users and assumed roles: users,
groups, managed and inline policies, boundaries, access keys; denials in each service's own shape
naming action and resource; STS sessions (trust policies, session policies, tags, ExternalId,
expiry); S3 bucket policies, Block Public Access, anonymous and presigned access; the escalation
paths of MinIO's advisories, all closed."""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import requests
from botocore import UNSIGNED
from botocore.config import Config
from botocore.exceptions import ClientError
from conftest import NimbusServer, error_code, http_status

from nimbus.storage.session_tokens import SessionClaims, SessionTokens

ADMIN = "arn:aws:iam::aws:policy/AdministratorAccess"


def document(*statements: dict[str, Any]) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


def allow(action: str | list[str], resource: str | list[str] = "*", **extra: Any) -> dict[str, Any]:
    return {"Effect": "Allow", "Action": action, "Resource": resource, **extra}


def deny(action: str | list[str], resource: str | list[str] = "*", **extra: Any) -> dict[str, Any]:
    return {"Effect": "Deny", "Action": action, "Resource": resource, **extra}


class Account:
    """The root's IAM client plus helpers that make users and roles, removed at the end."""

    def __init__(self, nimbus: NimbusServer) -> None:
        self.nimbus = nimbus
        self.iam = nimbus.client("iam")
        self.users: list[str] = []
        self.roles: list[str] = []

    def user(self, *statements: dict[str, Any], boundary: str | None = None) -> tuple[str, dict[str, str]]:
        name = f"u-{uuid.uuid4().hex[:10]}"
        extra = {"PermissionsBoundary": boundary} if boundary else {}
        self.iam.create_user(UserName=name, **extra)
        self.users.append(name)
        if statements:
            self.iam.put_user_policy(UserName=name, PolicyName="own", PolicyDocument=document(*statements))
        key = self.iam.create_access_key(UserName=name)["AccessKey"]
        return name, {
            "aws_access_key_id": key["AccessKeyId"],
            "aws_secret_access_key": key["SecretAccessKey"],
        }

    def role(self, trust: list[dict[str, Any]], *statements: dict[str, Any], **extra: Any) -> str:
        name = f"r-{uuid.uuid4().hex[:10]}"
        arn = self.iam.create_role(RoleName=name, AssumeRolePolicyDocument=document(*trust), **extra)["Role"][
            "Arn"
        ]
        self.roles.append(name)
        if statements:
            self.iam.put_role_policy(RoleName=name, PolicyName="own", PolicyDocument=document(*statements))
        return str(arn)

    def client(self, service: str, keys: dict[str, str], **extra: Any) -> Any:
        return self.nimbus.client(service, **keys, **extra)

    def cleanup(self) -> None:
        for name in self.users:
            for key in self.iam.list_access_keys(UserName=name)["AccessKeyMetadata"]:
                self.iam.delete_access_key(UserName=name, AccessKeyId=key["AccessKeyId"])
            for policy in self.iam.list_user_policies(UserName=name)["PolicyNames"]:
                self.iam.delete_user_policy(UserName=name, PolicyName=policy)
            for attached in self.iam.list_attached_user_policies(UserName=name)["AttachedPolicies"]:
                self.iam.detach_user_policy(UserName=name, PolicyArn=attached["PolicyArn"])
            for group in self.iam.list_groups_for_user(UserName=name)["Groups"]:
                self.iam.remove_user_from_group(GroupName=group["GroupName"], UserName=name)
            self.iam.delete_user(UserName=name)
        for name in self.roles:
            for policy in self.iam.list_role_policies(RoleName=name)["PolicyNames"]:
                self.iam.delete_role_policy(RoleName=name, PolicyName=policy)
            self.iam.delete_role(RoleName=name)

    @classmethod
    def for_module(cls, nimbus: NimbusServer) -> Iterator[Account]:
        """An account for a module's tests, whose users and roles are removed after them."""
        made = cls(nimbus)
        yield made
        if nimbus.is_running():
            made.cleanup()


@pytest.fixture(scope="module")
def account(nimbus: NimbusServer) -> Iterator[Account]:
    yield from Account.for_module(nimbus)


def session_keys(credentials: dict[str, Any]) -> dict[str, str]:
    """Client arguments for STS's temporary credentials."""
    return {
        "aws_access_key_id": credentials["AccessKeyId"],
        "aws_secret_access_key": credentials["SecretAccessKey"],
        "aws_session_token": credentials["SessionToken"],
    }


def denied(call: Callable[[], Any], code: str = "AccessDenied", status: int = 403) -> str:
    with pytest.raises(ClientError) as caught:
        call()
    assert (error_code(caught), http_status(caught)) == (code, status), caught.value.response
    return str(caught.value.response["Error"]["Message"])


def test_users_groups_and_managed_policies(account: Account, s3: Any, bucket: str) -> None:
    """A new user may do nothing; a group's managed policy lets it read; a prefix policy with
    ${aws:username} lets it write its own folder only; an explicit deny wins over every allow."""
    name, keys = account.user()
    user_s3 = account.client("s3", keys)
    s3.put_object(Bucket=bucket, Key="shared/a.txt", Body=b"a")
    message = denied(lambda: user_s3.get_object(Bucket=bucket, Key="shared/a.txt"))
    resource = f"arn:aws:s3:::{bucket}/shared/a.txt"
    assert f"user/{name} is not authorized to perform: s3:GetObject on resource: {resource}" in message
    assert "because no identity-based policy allows the s3:GetObject action" in message

    iam = account.iam
    group = f"g-{uuid.uuid4().hex[:8]}"
    iam.create_group(GroupName=group)
    readers = iam.create_policy(
        PolicyName=f"read-{group}",
        PolicyDocument=document(
            allow(["s3:GetObject", "s3:ListBucket"], [f"arn:aws:s3:::{bucket}", f"arn:aws:s3:::{bucket}/*"])
        ),
    )["Policy"]
    iam.attach_group_policy(GroupName=group, PolicyArn=readers["Arn"])
    iam.add_user_to_group(GroupName=group, UserName=name)
    assert user_s3.get_object(Bucket=bucket, Key="shared/a.txt")["Body"].read() == b"a"
    denied(lambda: user_s3.put_object(Bucket=bucket, Key=f"{name}/x", Body=b"x"))

    own_folder = allow("s3:PutObject", f"arn:aws:s3:::{bucket}/${{aws:username}}/*")
    iam.put_user_policy(UserName=name, PolicyName="own", PolicyDocument=document(own_folder))
    user_s3.put_object(Bucket=bucket, Key=f"{name}/x", Body=b"x")
    denied(lambda: user_s3.put_object(Bucket=bucket, Key="someone-else/x", Body=b"x"))

    iam.create_policy_version(
        PolicyArn=readers["Arn"],
        PolicyDocument=document(deny("s3:GetObject", f"arn:aws:s3:::{bucket}/shared/*")),
        SetAsDefault=True,
    )
    message = denied(lambda: user_s3.get_object(Bucket=bucket, Key="shared/a.txt"))
    assert "with an explicit deny in an identity-based policy" in message
    assert iam.get_policy(PolicyArn=readers["Arn"])["Policy"]["AttachmentCount"] == 1
    assert [v["VersionId"] for v in iam.list_policy_versions(PolicyArn=readers["Arn"])["Versions"]] == [
        "v2",
        "v1",
    ]
    aws_versions = iam.list_policy_versions(PolicyArn=ADMIN)["Versions"]
    assert [(v["VersionId"], v["IsDefaultVersion"]) for v in aws_versions] == [("v1", True)]
    summary = iam.get_account_summary()["SummaryMap"]
    assert summary["Users"] >= 1 and summary["Groups"] >= 1 and summary["Policies"] >= 1

    iam.remove_user_from_group(GroupName=group, UserName=name)
    iam.detach_group_policy(GroupName=group, PolicyArn=readers["Arn"])
    denied(lambda: iam.delete_policy(PolicyArn=readers["Arn"]), "DeleteConflict", 409)  # a second version
    iam.delete_policy_version(PolicyArn=readers["Arn"], VersionId="v1")
    iam.delete_policy(PolicyArn=readers["Arn"])
    iam.delete_group(GroupName=group)


def test_denials_in_each_services_shape(account: Account) -> None:
    """The same missing permission is AccessDenied (403) in query services, AccessDeniedException
    (400) in JSON services; the server refuses before the operation runs."""
    _, keys = account.user(allow("sts:GetCallerIdentity"))
    message = denied(lambda: account.client("iam", keys).list_users())
    assert "iam:ListUsers on resource: *" in message
    message = denied(
        lambda: account.client("sagemaker", keys).list_training_jobs(), "AccessDeniedException", 400
    )
    assert "sagemaker:ListTrainingJobs on resource: *" in message
    denied(lambda: account.client("rekognition", keys).list_collections(), "AccessDeniedException", 400)
    denied(lambda: account.client("s3", keys).list_buckets())

    # S3's account-wide ListAllMyBuckets: granted by "arn:aws:s3:::*" (as AWS's examples grant it),
    # by no one bucket's ARN
    name, keys = account.user(allow("s3:ListAllMyBuckets", "arn:aws:s3:::*"))
    assert "Buckets" in account.client("s3", keys).list_buckets()
    _, keys = account.user(allow("s3:ListAllMyBuckets", "arn:aws:s3:::some-bucket"))
    assert "s3:ListAllMyBuckets on resource: arn:aws:s3:::*" in denied(
        account.client("s3", keys).list_buckets
    )
    twice = document(allow("s3:GetObject", Sid="Read"), allow("s3:ListBucket", Sid="Read"))
    message = denied(
        lambda: account.iam.put_user_policy(UserName=name, PolicyName="twice", PolicyDocument=twice),
        "MalformedPolicyDocument",
        400,
    )
    assert message == "Statement IDs (SID) in a single policy must be unique."


def test_permissions_boundary_limits_and_conditions(account: Account, bucket: str) -> None:
    boundary = account.iam.create_policy(
        PolicyName=f"b-{uuid.uuid4().hex[:8]}", PolicyDocument=document(allow("s3:ListBucket"))
    )["Policy"]["Arn"]
    from_loopback = {"IpAddress": {"aws:SourceIp": "127.0.0.0/8"}, "Bool": {"aws:SecureTransport": "false"}}
    _, keys = account.user(allow("s3:*", Condition=from_loopback), boundary=boundary)
    user_s3 = account.client("s3", keys)
    assert user_s3.list_objects_v2(Bucket=bucket)["KeyCount"] == 0
    message = denied(lambda: user_s3.put_object(Bucket=bucket, Key="k", Body=b""))
    assert "because no permissions boundary allows the s3:PutObject action" in message
    elsewhere = {"NotIpAddress": {"aws:SourceIp": "127.0.0.0/8"}}
    _, keys = account.user(allow("s3:ListBucket"), deny("s3:ListBucket", Condition=elsewhere))
    assert account.client("s3", keys).list_objects_v2(Bucket=bucket, Prefix="p/")["KeyCount"] == 0


def test_access_keys_of_users(account: Account) -> None:
    name, keys = account.user(allow("iam:ListAccessKeys", "arn:aws:iam::*:user/${aws:username}"))
    own = account.client("iam", keys).list_access_keys()["AccessKeyMetadata"]
    assert [key["AccessKeyId"] for key in own] == [keys["aws_access_key_id"]]
    second = account.iam.create_access_key(UserName=name)["AccessKey"]
    denied(lambda: account.iam.create_access_key(UserName=name), "LimitExceeded", 409)
    account.iam.update_access_key(UserName=name, AccessKeyId=second["AccessKeyId"], Status="Inactive")
    inactive = {
        "aws_access_key_id": second["AccessKeyId"],
        "aws_secret_access_key": second["SecretAccessKey"],
    }
    denied(lambda: account.client("sts", inactive).get_caller_identity(), "InvalidClientTokenId")
    statuses = {
        k["AccessKeyId"]: k["Status"]
        for k in account.iam.list_access_keys(UserName=name)["AccessKeyMetadata"]
    }
    assert statuses == {keys["aws_access_key_id"]: "Active", second["AccessKeyId"]: "Inactive"}
    account.iam.delete_access_key(UserName=name, AccessKeyId=second["AccessKeyId"])
    denied(lambda: account.iam.delete_user(UserName=name), "DeleteConflict", 409)


def test_assume_role_sessions(account: Account, nimbus: NimbusServer, bucket: str) -> None:
    """Trust policy, ExternalId, session policy, tags, DurationSeconds; GetCallerIdentity for each
    kind of principal; a session's credentials work in every service until they expire."""
    user, keys = account.user(allow("sts:AssumeRole"))
    user_arn = f"arn:aws:iam::{nimbus.account_id}:user/{user}"
    trust = [
        {
            "Effect": "Allow",
            "Principal": {"AWS": user_arn},
            "Action": ["sts:AssumeRole", "sts:TagSession"],
            "Condition": {"StringEquals": {"sts:ExternalId": "e-42"}},
        }
    ]
    role_arn = account.role(trust, allow(["s3:ListBucket", "s3:GetObject"]), allow("sagemaker:List*"))
    stranger_arn = account.role(
        [{"Effect": "Allow", "Principal": {"Service": "sagemaker.amazonaws.com"}, "Action": "sts:AssumeRole"}]
    )
    sts = account.client("sts", keys)
    assert sts.get_caller_identity()["Arn"] == user_arn
    message = denied(lambda: sts.assume_role(RoleArn=role_arn, RoleSessionName="s1"))  # no ExternalId
    assert f"sts:AssumeRole on resource: {role_arn}" in message
    denied(lambda: sts.assume_role(RoleArn=stranger_arn, RoleSessionName="s1", ExternalId="e-42"))
    denied(
        lambda: sts.assume_role(
            RoleArn=role_arn, RoleSessionName="s1", ExternalId="e-42", DurationSeconds=7200
        ),
        "ValidationError",
        400,
    )
    denied(
        lambda: nimbus.client("sts").assume_role(RoleArn=role_arn, RoleSessionName="s1", ExternalId="e-42")
    )
    untagged_arn = account.role(
        [{"Effect": "Allow", "Principal": {"AWS": user_arn}, "Action": "sts:AssumeRole"}]
    )
    tags = [{"Key": "team", "Value": "ml"}]
    message = denied(lambda: sts.assume_role(RoleArn=untagged_arn, RoleSessionName="s1", Tags=tags))
    assert f"sts:TagSession on resource: {untagged_arn}" in message  # its trust policy allows no tags
    assert sts.assume_role(RoleArn=untagged_arn, RoleSessionName="s1")["Credentials"]["AccessKeyId"]

    only_reads = document(allow("s3:GetObject"))
    session = sts.assume_role(
        RoleArn=role_arn,
        RoleSessionName="job-1",
        ExternalId="e-42",
        Policy=only_reads,
        DurationSeconds=900,
        Tags=[{"Key": "team", "Value": "ml"}],
    )
    creds = session["Credentials"]
    assert creds["AccessKeyId"].startswith("ASIA") and creds["Expiration"] > datetime.now(UTC)
    assert creds["Expiration"] <= datetime.now(UTC) + timedelta(seconds=901)
    temporary = session_keys(creds)
    identity = account.client("sts", temporary).get_caller_identity()
    role_name = role_arn.rsplit("/", 1)[-1]
    assert identity["Arn"] == f"arn:aws:sts::{nimbus.account_id}:assumed-role/{role_name}/job-1"
    assert identity["UserId"] == session["AssumedRoleUser"]["AssumedRoleId"] and identity["UserId"].endswith(
        ":job-1"
    )
    nimbus.client("s3").put_object(Bucket=bucket, Key="in.csv", Body=b"1,2")
    role_s3 = account.client("s3", temporary)
    assert role_s3.get_object(Bucket=bucket, Key="in.csv")["Body"].read() == b"1,2"
    message = denied(lambda: role_s3.list_objects_v2(Bucket=bucket))  # the role may, the session policy not
    assert "because no session policy allows the s3:ListBucket action" in message
    denied(lambda: account.client("sagemaker", temporary).list_models(), "AccessDeniedException", 400)

    user_session = sts.get_session_token(DurationSeconds=900)["Credentials"]
    as_user = session_keys(user_session)
    assert account.client("sts", as_user).get_caller_identity()["Arn"] == user_arn
    denied(lambda: account.client("sts", as_user).get_session_token())
    root_session = nimbus.client("sts").get_session_token()["Credentials"]
    as_root = session_keys(root_session)
    assert account.client("sts", as_root).get_caller_identity()["Arn"].endswith(":root")

    forged = {**temporary, "aws_session_token": creds["SessionToken"][:-4] + "AAAA"}
    denied(lambda: account.client("s3", forged).get_object(Bucket=bucket, Key="in.csv"), "InvalidToken", 400)


def test_expired_session_is_refused(account: Account, nimbus: NimbusServer, bucket: str) -> None:
    """A session past its Expiration is refused by every service (the token is made with the
    server's own signing key, an hour old, as STS would have made it)."""
    tokens = SessionTokens.open(nimbus.data_dir)
    now = int(datetime.now(UTC).timestamp())
    akid = tokens.new_access_key_id()
    claims = SessionClaims(
        akid,
        nimbus.account_id,
        f"arn:aws:iam::{nimbus.account_id}:root",
        nimbus.account_id,
        issued_at=now - 3600,
        expires_at=now - 1,
    )
    expired = {
        "aws_access_key_id": akid,
        "aws_secret_access_key": tokens.secret_for(akid),
        "aws_session_token": tokens.issue(claims),
    }
    denied(lambda: account.client("s3", expired).head_bucket(Bucket=bucket), "400", 400)  # HEAD: no body
    denied(lambda: account.client("s3", expired).list_objects_v2(Bucket=bucket), "ExpiredToken", 400)
    denied(lambda: account.client("sts", expired).get_caller_identity(), "ExpiredToken", 403)
    denied(lambda: account.client("sagemaker", expired).list_models(), "ExpiredTokenException", 400)
    fresh = SessionClaims(
        akid, nimbus.account_id, claims.arn, claims.user_id, issued_at=now, expires_at=now + 900
    )
    valid = {**expired, "aws_session_token": tokens.issue(fresh)}
    assert account.client("s3", valid).list_objects_v2(Bucket=bucket)["KeyCount"] >= 0


def test_bucket_policies_public_access_and_presigned_urls(
    account: Account, s3: Any, bucket: str, nimbus: NimbusServer
) -> None:
    name, keys = account.user()
    user_arn = f"arn:aws:iam::{nimbus.account_id}:user/{name}"
    s3.put_object(Bucket=bucket, Key="public/p.txt", Body=b"p")
    s3.put_object(Bucket=bucket, Key="team/t.txt", Body=b"t")
    user_s3 = account.client("s3", keys)
    denied(lambda: user_s3.get_object(Bucket=bucket, Key="team/t.txt"))

    grant_user = {
        "Effect": "Allow",
        "Principal": {"AWS": user_arn},
        "Action": "s3:GetObject",
        "Resource": f"arn:aws:s3:::{bucket}/team/*",
    }
    public = {
        "Effect": "Allow",
        "Principal": "*",
        "Action": "s3:GetObject",
        "Resource": f"arn:aws:s3:::{bucket}/public/*",
    }
    message = denied(lambda: s3.put_bucket_policy(Bucket=bucket, Policy=document(grant_user, public)))
    assert "BlockPublicPolicy" in message  # a new bucket blocks public policies, as in AWS
    assert s3.get_public_access_block(Bucket=bucket)["PublicAccessBlockConfiguration"]["BlockPublicPolicy"]
    other_account = {
        **grant_user,
        "Principal": {"AWS": ["444455556666", f"arn:aws:iam::444455556666:user/{name}"]},
    }
    s3.put_bucket_policy(Bucket=bucket, Policy=document(other_account))  # another account's principals
    denied(lambda: user_s3.get_object(Bucket=bucket, Key="team/t.txt"))
    s3.put_bucket_policy(Bucket=bucket, Policy=document(grant_user))
    assert (
        user_s3.get_object(Bucket=bucket, Key="team/t.txt")["Body"].read() == b"t"
    )  # no identity policy needed
    assert s3.get_bucket_policy_status(Bucket=bucket)["PolicyStatus"]["IsPublic"] is False
    url = f"{nimbus.endpoint_url}/{bucket}/public/p.txt"
    assert requests.get(url, timeout=30).status_code == 403

    s3.delete_public_access_block(Bucket=bucket)
    s3.put_bucket_policy(Bucket=bucket, Policy=document(grant_user, public))
    assert json.loads(s3.get_bucket_policy(Bucket=bucket)["Policy"])["Statement"][1]["Principal"] == "*"
    assert s3.get_bucket_policy_status(Bucket=bucket)["PolicyStatus"]["IsPublic"] is True
    assert requests.get(url, timeout=30).content == b"p"  # anonymous, as the policy allows
    anonymous = nimbus.client("s3", config=Config(signature_version=UNSIGNED))
    denied(lambda: anonymous.get_object(Bucket=bucket, Key="team/t.txt"))
    denied(lambda: anonymous.put_object(Bucket=bucket, Key="public/new", Body=b""))
    s3.put_public_access_block(Bucket=bucket, PublicAccessBlockConfiguration={"RestrictPublicBuckets": True})
    assert requests.get(url, timeout=30).status_code == 403  # the public grant counts for no one now

    deny_user = {
        "Effect": "Deny",
        "Principal": {"AWS": user_arn},
        "Action": "s3:*",
        "Resource": f"arn:aws:s3:::{bucket}/*",
    }
    s3.put_bucket_policy(Bucket=bucket, Policy=document(grant_user, deny_user))
    message = denied(lambda: user_s3.get_object(Bucket=bucket, Key="team/t.txt"))
    assert "with an explicit deny in a resource-based policy" in message

    presigned = user_s3.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": "team/t.txt"})
    answer = requests.get(presigned, timeout=30)
    assert (
        answer.status_code == 403 and "<Code>AccessDenied</Code>" in answer.text
    )  # the signer's permissions
    root_url = s3.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": "team/t.txt"})
    assert requests.get(root_url, timeout=30).content == b"t"
    s3.delete_bucket_policy(Bucket=bucket)
    denied(lambda: s3.get_bucket_policy(Bucket=bucket), "NoSuchBucketPolicy", 404)


def test_ownership_and_canned_acls(s3: Any, bucket: str, nimbus: NimbusServer) -> None:
    assert s3.get_bucket_ownership_controls(Bucket=bucket)["OwnershipControls"]["Rules"] == [
        {"ObjectOwnership": "BucketOwnerEnforced"}
    ]
    denied(lambda: s3.put_bucket_acl(Bucket=bucket, ACL="public-read"), "AccessControlListNotSupported", 400)
    s3.put_bucket_ownership_controls(
        Bucket=bucket, OwnershipControls={"Rules": [{"ObjectOwnership": "ObjectWriter"}]}
    )
    denied(lambda: s3.put_bucket_acl(Bucket=bucket, ACL="public-read"))  # BlockPublicAcls
    s3.delete_public_access_block(Bucket=bucket)
    s3.put_bucket_acl(Bucket=bucket, ACL="public-read")
    grants = s3.get_bucket_acl(Bucket=bucket)["Grants"]
    assert {"URI": "http://acs.amazonaws.com/groups/global/AllUsers", "Type": "Group"} in [
        g["Grantee"] for g in grants
    ]
    listing = requests.get(f"{nimbus.endpoint_url}/{bucket}?list-type=2", timeout=30)
    assert listing.status_code == 200 and "<ListBucketResult" in listing.text
    assert requests.get(f"{nimbus.endpoint_url}/{bucket}/k", timeout=30).status_code == 403  # READ lists only
    s3.put_bucket_acl(Bucket=bucket, ACL="private")


def test_escalation_paths_are_closed(account: Account, nimbus: NimbusServer, bucket: str) -> None:
    """Nimbus's forms of MinIO's privilege escalations, each denied:
    CVE-2021-43858 (a user allowed to manage users gives itself more), CVE-2022-24842 (keys for
    another user or for root), CVE-2024-24747 (derived credentials with more than their parent),
    the 2025 session-policy bypass (a session policy ignored), and iam:PassRole."""
    own = "arn:aws:iam::*:user/${aws:username}"
    name, keys = account.user(
        allow(["iam:CreateUser", "iam:CreateAccessKey", "iam:GetUser"], own), allow("iam:CreateUser")
    )
    victim, _ = account.user(allow("s3:*"))
    iam = account.client("iam", keys)
    me = f"arn:aws:iam::{nimbus.account_id}:user/{name}"
    denied(lambda: iam.attach_user_policy(UserName=name, PolicyArn=ADMIN))  # CVE-2021-43858
    denied(lambda: iam.put_user_policy(UserName=name, PolicyName="x", PolicyDocument=document(allow("*"))))
    created = f"u-{uuid.uuid4().hex[:8]}"
    iam.create_user(UserName=created)
    account.users.append(created)
    denied(lambda: iam.attach_user_policy(UserName=created, PolicyArn=ADMIN))
    denied(lambda: iam.create_access_key(UserName=created))  # CVE-2022-24842: keys for another user
    denied(lambda: iam.create_access_key(UserName=victim))
    assert iam.get_user()["User"]["Arn"] == me

    role_arn = account.role(
        [{"Effect": "Allow", "Principal": {"AWS": me}, "Action": "sts:AssumeRole"}], allow("s3:GetObject")
    )
    session = account.client("sts", keys).assume_role(
        RoleArn=role_arn, RoleSessionName="s1", Policy=document(allow("*"))
    )["Credentials"]
    temporary = session_keys(session)
    denied(
        lambda: account.client("s3", temporary).put_object(Bucket=bucket, Key="k", Body=b"")
    )  # CVE-2024-24747
    denied(lambda: account.client("iam", temporary).create_user(UserName="x"))
    nothing = account.client("sts", keys).assume_role(
        RoleArn=role_arn, RoleSessionName="s1", Policy=document(deny("*"))
    )["Credentials"]
    limited = session_keys(nothing)
    nimbus.client("s3").put_object(Bucket=bucket, Key="r", Body=b"r")
    denied(
        lambda: account.client("s3", limited).get_object(Bucket=bucket, Key="r")
    )  # the session policy holds

    trainer_arn = account.role(
        [{"Effect": "Allow", "Principal": {"Service": "sagemaker.amazonaws.com"}, "Action": "sts:AssumeRole"}]
    )
    _, ml_keys = account.user(allow("sagemaker:CreateTrainingJob"))
    job = {
        "TrainingJobName": f"j-{uuid.uuid4().hex[:8]}",
        "AlgorithmSpecification": {"TrainingImage": "xgboost", "TrainingInputMode": "File"},
        "RoleArn": trainer_arn,
        "OutputDataConfig": {"S3OutputPath": f"s3://{bucket}/out"},
        "ResourceConfig": {"InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 1},
        "StoppingCondition": {"MaxRuntimeInSeconds": 60},
    }
    message = denied(
        lambda: account.client("sagemaker", ml_keys).create_training_job(**job), "AccessDeniedException", 400
    )
    assert f"iam:PassRole on resource: {trainer_arn}" in message
    assert re.search(r"because no identity-based policy allows the iam:PassRole action", message)
