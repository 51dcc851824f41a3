"""Authorization that depends on the resource: tag-based policies (ABAC) deciding on the tags Nimbus
stores for buckets, objects, topics and collections, DeleteObjects authorized key by key, and object
ACLs, seen from boto3 as different users and as an anonymous caller."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
import requests
from conftest import NimbusServer
from test_iam_enforcement import Account, allow, denied, document


@pytest.fixture(scope="module")
def account(nimbus: NimbusServer) -> Iterator[Account]:
    yield from Account.for_module(nimbus)


def _team_policy(team: str) -> dict[str, Any]:
    """Lists buckets, publishes to topics, sends to queues and describes collections tagged ``team``."""
    return allow(
        ["s3:ListBucket", "sns:Publish", "sqs:SendMessage", "rekognition:DescribeCollection"],
        Condition={"StringEquals": {"aws:ResourceTag/team": team}},
    )


def test_tag_based_policies_decide_on_stored_tags(account: Account, s3: Any, bucket: str) -> None:
    """Two users whose policies allow only resources tagged with their team: bucket tags count once
    ABAC is enabled on the bucket (S3's default is off); object tags are s3:ExistingObjectTag."""
    s3.put_bucket_tagging(Bucket=bucket, Tagging={"TagSet": [{"Key": "team", "Value": "red"}]})
    s3.put_object(Bucket=bucket, Key="open", Body=b"o", Tagging="classification=public")
    s3.put_object(Bucket=bucket, Key="closed", Body=b"c", Tagging="classification=secret")
    public_reads = allow(
        "s3:GetObject", Condition={"StringEquals": {"s3:ExistingObjectTag/classification": "public"}}
    )
    _, red_keys = account.user(_team_policy("red"), public_reads)
    _, blue_keys = account.user(_team_policy("blue"))
    red, blue = account.client("s3", red_keys), account.client("s3", blue_keys)

    assert red.get_object(Bucket=bucket, Key="open")["Body"].read() == b"o"
    message = denied(lambda: red.get_object(Bucket=bucket, Key="closed"))
    assert "s3:GetObject" in message and f"{bucket}/closed" in message
    s3.put_object_tagging(
        Bucket=bucket, Key="closed", Tagging={"TagSet": [{"Key": "classification", "Value": "public"}]}
    )
    assert red.get_object(Bucket=bucket, Key="closed")["Body"].read() == b"c"  # decided on today's tags

    denied(lambda: red.list_objects_v2(Bucket=bucket))  # ABAC off: the bucket's tags are not consulted
    assert s3.get_bucket_abac(Bucket=bucket)["AbacStatus"] == {"Status": "Disabled"}
    s3.put_bucket_abac(Bucket=bucket, AbacStatus={"Status": "Enabled"})
    assert s3.get_bucket_abac(Bucket=bucket)["AbacStatus"] == {"Status": "Enabled"}
    assert red.list_objects_v2(Bucket=bucket)["KeyCount"] == 2
    denied(lambda: blue.list_objects_v2(Bucket=bucket))
    denied(lambda: s3.put_bucket_abac(Bucket=bucket, AbacStatus={"Status": "On"}), "MalformedXML", 400)

    sns = account.nimbus.client("sns")
    red_topic = sns.create_topic(Name=f"{bucket}-red", Tags=[{"Key": "team", "Value": "red"}])["TopicArn"]
    blue_topic = sns.create_topic(Name=f"{bucket}-blue", Tags=[{"Key": "team", "Value": "blue"}])["TopicArn"]
    sqs = account.nimbus.client("sqs")
    queue = sqs.create_queue(QueueName=f"{bucket}-red", tags={"team": "red"})["QueueUrl"]
    rekognition = account.nimbus.client("rekognition")
    rekognition.create_collection(CollectionId=f"{bucket}-red", Tags={"team": "red"})
    try:
        red_sns, blue_sns = account.client("sns", red_keys), account.client("sns", blue_keys)
        assert red_sns.publish(TopicArn=red_topic, Message="hi")["MessageId"]
        assert blue_sns.publish(TopicArn=blue_topic, Message="hi")["MessageId"]
        denied(lambda: red_sns.publish(TopicArn=blue_topic, Message="hi"), "AuthorizationError")
        assert account.client("sqs", red_keys).send_message(QueueUrl=queue, MessageBody="hi")["MessageId"]
        blue_sqs = account.client("sqs", blue_keys)
        denied(lambda: blue_sqs.send_message(QueueUrl=queue, MessageBody="hi"), "AccessDenied", 403)
        red_faces = account.client("rekognition", red_keys)
        blue_faces = account.client("rekognition", blue_keys)
        assert red_faces.describe_collection(CollectionId=f"{bucket}-red")["FaceCount"] == 0
        denied(
            lambda: blue_faces.describe_collection(CollectionId=f"{bucket}-red"), "AccessDeniedException", 400
        )
    finally:
        sns.delete_topic(TopicArn=red_topic)
        sns.delete_topic(TopicArn=blue_topic)
        sqs.delete_queue(QueueUrl=queue)
        rekognition.delete_collection(CollectionId=f"{bucket}-red")


def test_tag_based_policies_in_streams_registries_bots_and_iam(
    account: Account, s3: Any, bucket: str
) -> None:
    """aws:ResourceTag decides on the tags Kinesis data and video streams, ECR repositories, Lex bots
    and aliases, Lex test sets and IAM roles keep (video streams named by name too, whose ARN ends
    with their creation time), and on today's tags after a change; the service's own family
    (ecr:ResourceTag) alike; TagRole's and Lex TagResource's tags count from then on."""
    red_only = {"StringEquals": {"aws:ResourceTag/team": "red"}}
    _, keys = account.user(
        allow(
            [
                "kinesis:DescribeStreamSummary",
                "kinesisvideo:DescribeStream",
                "lex:DescribeBot",
                "lex:DescribeBotAlias",
                "lex:DescribeTestSet",
                "iam:GetRole",
            ],
            Condition=red_only,
        ),
        allow("ecr:ListImages", Condition={"StringEquals": {"ecr:ResourceTag/team": "red"}}),
    )
    nimbus = account.nimbus
    kinesis, video, ecr, lex = (
        nimbus.client(name) for name in ("kinesis", "kinesisvideo", "ecr", "lexv2-models")
    )
    team = {"red": [{"Key": "team", "Value": "red"}], "blue": [{"Key": "team", "Value": "blue"}]}
    trust = {"Effect": "Allow", "Principal": {"Service": "lexv2.amazonaws.com"}, "Action": "sts:AssumeRole"}
    role = {color: account.role([trust], Tags=team[color]).rsplit("/", 1)[1] for color in team}
    bots = {}
    for color in team:
        kinesis.create_stream(StreamName=f"{bucket}-{color}", ShardCount=1, Tags={"team": color})
        video.create_stream(StreamName=f"{bucket}-{color}", Tags={"team": color})
        ecr.create_repository(repositoryName=f"{bucket}-{color}", tags=team[color])
        bots[color] = lex.create_bot(
            botName=f"{bucket}-{color}",
            roleArn=f"arn:aws:iam::{nimbus.account_id}:role/{role[color]}",
            dataPrivacy={"childDirected": False},
            idleSessionTTLInSeconds=300,
            botTags={"team": color},
            testBotAliasTags={"team": color},
        )["botId"]
    try:
        user = {
            name: account.client(name, keys)
            for name in ("kinesis", "kinesisvideo", "ecr", "lexv2-models", "iam")
        }
        assert user["kinesis"].describe_stream_summary(StreamName=f"{bucket}-red")["StreamDescriptionSummary"]
        denied(
            lambda: user["kinesis"].describe_stream_summary(StreamName=f"{bucket}-blue"),
            "AccessDeniedException",
            400,
        )
        assert user["kinesisvideo"].describe_stream(StreamName=f"{bucket}-red")["StreamInfo"]["Status"]
        message = denied(
            lambda: user["kinesisvideo"].describe_stream(StreamName=f"{bucket}-blue"),
            "AccessDeniedException",
            401,
        )
        assert f":stream/{bucket}-blue/" in message  # the stream's own ARN, creation time included
        assert user["ecr"].list_images(repositoryName=f"{bucket}-red")["imageIds"] == []
        denied(lambda: user["ecr"].list_images(repositoryName=f"{bucket}-blue"), "AccessDeniedException", 400)
        assert user["lexv2-models"].describe_bot(botId=bots["red"])["botName"] == f"{bucket}-red"
        denied(lambda: user["lexv2-models"].describe_bot(botId=bots["blue"]), "AccessDeniedException", 403)
        alias = {"botAliasId": "TSTALIASID"}
        assert user["lexv2-models"].describe_bot_alias(botId=bots["red"], **alias)["botAliasName"]
        denied(
            lambda: user["lexv2-models"].describe_bot_alias(botId=bots["blue"], **alias),
            "AccessDeniedException",
            403,
        )
        assert user["iam"].get_role(RoleName=role["red"])["Role"]["RoleName"] == role["red"]
        denied(lambda: user["iam"].get_role(RoleName=role["blue"]))
        account.iam.tag_role(RoleName=role["blue"], Tags=team["red"])  # TagRole replaces the team tag
        assert account.iam.list_role_tags(RoleName=role["blue"])["Tags"] == team["red"]
        assert user["iam"].get_role(RoleName=role["blue"])["Role"]["RoleName"] == role["blue"]
        twice = [{"Key": "Team", "Value": "a"}, {"Key": "team", "Value": "b"}]
        denied(lambda: account.iam.tag_role(RoleName=role["blue"], Tags=twice), "InvalidInput", 400)
        test_set = _import_test_set(lex, s3, bucket, {"team": "blue"})
        denied(
            lambda: user["lexv2-models"].describe_test_set(testSetId=test_set), "AccessDeniedException", 403
        )
        test_set_arn = f"arn:aws:lex:{nimbus.region}:{nimbus.account_id}:test-set/{test_set}"
        lex.tag_resource(resourceARN=test_set_arn, tags={"team": "red"})  # replaces team=blue
        assert user["lexv2-models"].describe_test_set(testSetId=test_set)["testSetName"] == f"{bucket}-ts"
        too_many = {f"k{n}": "v" for n in range(200)}
        denied(lambda: lex.tag_resource(resourceARN=test_set_arn, tags=too_many), "ValidationException", 400)
        lex.untag_resource(resourceARN=test_set_arn, tagKeys=["team"])
        assert lex.list_tags_for_resource(resourceARN=test_set_arn)["tags"] == {}
        lex.delete_test_set(testSetId=test_set)
        kinesis.add_tags_to_stream(StreamName=f"{bucket}-blue", Tags={"team": "red"})  # today's tags decide
        assert user["kinesis"].describe_stream_summary(StreamName=f"{bucket}-blue")[
            "StreamDescriptionSummary"
        ]
    finally:
        for color in team:
            kinesis.delete_stream(StreamName=f"{bucket}-{color}")
            arn = video.describe_stream(StreamName=f"{bucket}-{color}")["StreamInfo"]["StreamARN"]
            video.delete_stream(StreamARN=arn)
            ecr.delete_repository(repositoryName=f"{bucket}-{color}")
            lex.delete_bot(botId=bots[color], skipResourceInUseCheck=True)


def test_oidc_providers_and_the_tags_of_policies_and_profiles(account: Account, bucket: str) -> None:
    """OpenID Connect providers are kept as AWS keeps them (client ids added and removed without
    error when already there or gone, thumbprints optional, delete idempotent); TagPolicy,
    TagInstanceProfile and TagOpenIDConnectProvider tags decide aws:ResourceTag; bad input (an
    http URL, a sixth thumbprint, a duplicate, a 51st tag) is refused and changes nothing."""
    iam = account.iam
    red, blue = [{"Key": "team", "Value": "red"}], [{"Key": "team", "Value": "blue"}]
    url = f"https://{bucket}.example.com/issuer"
    provider = iam.create_open_id_connect_provider(Url=url, ClientIDList=["app"], Tags=red)
    arn = provider["OpenIDConnectProviderArn"]
    assert arn == f"arn:aws:iam::{account.nimbus.account_id}:oidc-provider/{bucket}.example.com/issuer"
    policy = iam.create_policy(PolicyName=f"{bucket}-p", PolicyDocument=document(allow("s3:ListBucket")))
    policy_arn = policy["Policy"]["Arn"]
    iam.create_instance_profile(InstanceProfileName=f"{bucket}-ip")
    try:
        denied(lambda: iam.create_open_id_connect_provider(Url=url), "EntityAlreadyExists", 409)
        denied(
            lambda: iam.create_open_id_connect_provider(Url=f"http://{bucket}.example.com"),
            "InvalidInput",
            400,
        )
        for client_id in ("app", "cli", "cli"):
            iam.add_client_id_to_open_id_connect_provider(OpenIDConnectProviderArn=arn, ClientID=client_id)
        iam.remove_client_id_from_open_id_connect_provider(OpenIDConnectProviderArn=arn, ClientID="gone")
        iam.remove_client_id_from_open_id_connect_provider(OpenIDConnectProviderArn=arn, ClientID="app")
        thumbprint = "9e99a48a9960b14926bb7f3b02e22da2b0ab7280"
        iam.update_open_id_connect_provider_thumbprint(
            OpenIDConnectProviderArn=arn, ThumbprintList=[thumbprint]
        )
        six = [f"{n:040x}" for n in range(6)]
        denied(
            lambda: iam.update_open_id_connect_provider_thumbprint(
                OpenIDConnectProviderArn=arn, ThumbprintList=six
            ),
            "LimitExceeded",
            409,
        )
        got = iam.get_open_id_connect_provider(OpenIDConnectProviderArn=arn)
        assert (got["Url"], got["ClientIDList"], got["ThumbprintList"], got["Tags"]) == (
            f"{bucket}.example.com/issuer",
            ["cli"],
            [thumbprint],
            red,
        )
        assert {"Arn": arn} in iam.list_open_id_connect_providers()["OpenIDConnectProviderList"]

        iam.tag_policy(PolicyArn=policy_arn, Tags=red)
        iam.tag_instance_profile(InstanceProfileName=f"{bucket}-ip", Tags=blue)
        _, keys = account.user(
            allow(
                ["iam:GetOpenIDConnectProvider", "iam:GetPolicy", "iam:GetInstanceProfile"],
                Condition={"StringEquals": {"aws:ResourceTag/team": "red"}},
            )
        )
        user = account.client("iam", keys)
        assert user.get_open_id_connect_provider(OpenIDConnectProviderArn=arn)["ClientIDList"] == ["cli"]
        assert user.get_policy(PolicyArn=policy_arn)["Policy"]["Arn"] == policy_arn
        denied(lambda: user.get_instance_profile(InstanceProfileName=f"{bucket}-ip"))
        iam.tag_instance_profile(InstanceProfileName=f"{bucket}-ip", Tags=red)  # replaces team=blue
        assert user.get_instance_profile(InstanceProfileName=f"{bucket}-ip")["InstanceProfile"]["Tags"] == red
        iam.untag_open_id_connect_provider(OpenIDConnectProviderArn=arn, TagKeys=["TEAM"])  # any case
        denied(lambda: user.get_open_id_connect_provider(OpenIDConnectProviderArn=arn))
        assert iam.list_open_id_connect_provider_tags(OpenIDConnectProviderArn=arn)["Tags"] == []

        many = [{"Key": f"k{n:02}", "Value": "v"} for n in range(49)]
        iam.tag_policy(PolicyArn=policy_arn, Tags=many)  # 50 with team
        denied(
            lambda: iam.tag_policy(PolicyArn=policy_arn, Tags=[{"Key": "one", "Value": "more"}]),
            "LimitExceeded",
            409,
        )
        assert len(iam.list_policy_tags(PolicyArn=policy_arn, MaxItems=100)["Tags"]) == 50
        iam.untag_policy(PolicyArn=policy_arn, TagKeys=[tag["Key"] for tag in many])
        assert iam.list_policy_tags(PolicyArn=policy_arn)["Tags"] == red
        assert iam.list_instance_profile_tags(InstanceProfileName=f"{bucket}-ip")["Tags"] == red
    finally:
        iam.delete_open_id_connect_provider(OpenIDConnectProviderArn=arn)
        iam.delete_policy(PolicyArn=policy_arn)
        iam.delete_instance_profile(InstanceProfileName=f"{bucket}-ip")
    iam.delete_open_id_connect_provider(OpenIDConnectProviderArn=arn)  # gone already: no error
    denied(lambda: iam.get_open_id_connect_provider(OpenIDConnectProviderArn=arn), "NoSuchEntity", 404)


def test_a_bucket_policy_locks_out_the_root_only_when_confirmed(s3: Any, bucket: str) -> None:
    """The account's root keeps GetBucketPolicy, PutBucketPolicy and DeleteBucketPolicy whatever the
    policy denies, unless it was put with ConfirmRemoveSelfBucketAccess (s3-tests'
    test_bucket_policy_deny_self_denied_policy and its _confirm_header twin)."""
    actions = ["s3:GetBucketPolicy", "s3:PutBucketPolicy", "s3:DeleteBucketPolicy"]
    deny_all = json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {"Effect": "Deny", "Principal": "*", "Action": actions, "Resource": f"arn:aws:s3:::{bucket}"}
            ],
        }
    )
    s3.put_bucket_policy(Bucket=bucket, Policy=deny_all)
    assert s3.get_bucket_policy(Bucket=bucket)["Policy"] == deny_all
    s3.put_bucket_policy(Bucket=bucket, Policy=deny_all, ConfirmRemoveSelfBucketAccess=True)
    for call in (s3.get_bucket_policy, s3.delete_bucket_policy):
        denied(lambda call=call: call(Bucket=bucket))


def _import_test_set(lex: Any, s3: Any, bucket: str, tags: dict[str, str]) -> str:
    """A one-line test set imported from the bucket with ``tags``; its id."""
    s3.put_object(
        Bucket=bucket, Key="ts.csv", Body=b"Line #,Source,Input,Expected Output Intent\n1,User,hi,Greet\n"
    )
    import_id = lex.create_upload_url()["importId"]
    spec = {
        "testSetName": f"{bucket}-ts",
        "roleArn": "arn:aws:iam::123456789012:role/lex",
        "storageLocation": {"s3BucketName": bucket, "s3Path": "test-sets/"},
        "importInputLocation": {"s3BucketName": bucket, "s3Path": "ts.csv"},
        "modality": "Text",
        "testSetTags": tags,
    }
    lex.start_import(
        importId=import_id,
        mergeStrategy="FailOnConflict",
        resourceSpecification={"testSetImportResourceSpecification": spec},
    )
    return str(lex.describe_import(importId=import_id)["importedResourceId"])


def test_delete_objects_is_authorized_key_by_key(account: Account, s3: Any, bucket: str) -> None:
    """The keys the caller may delete are deleted; each other key is reported as AccessDenied in
    Errors and stays, as S3 answers a multi-object delete."""
    for key in ("scratch/a", "scratch/b", "kept/c"):
        s3.put_object(Bucket=bucket, Key=key, Body=b"x")
    _, keys = account.user(allow("s3:DeleteObject", f"arn:aws:s3:::{bucket}/scratch/*"))
    user = account.client("s3", keys)

    answer = user.delete_objects(
        Bucket=bucket, Delete={"Objects": [{"Key": "scratch/a"}, {"Key": "kept/c"}, {"Key": "scratch/b"}]}
    )
    assert sorted(item["Key"] for item in answer["Deleted"]) == ["scratch/a", "scratch/b"]
    assert answer["Errors"] == [{"Key": "kept/c", "Code": "AccessDenied", "Message": "Access Denied"}]
    remaining = s3.list_objects_v2(Bucket=bucket)["Contents"]
    assert [item["Key"] for item in remaining] == ["kept/c"]

    quiet = user.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": "kept/c"}], "Quiet": True})
    assert "Deleted" not in quiet and [error["Key"] for error in quiet["Errors"]] == ["kept/c"]
    versioned = user.delete_objects(  # a named version needs s3:DeleteObjectVersion
        Bucket=bucket, Delete={"Objects": [{"Key": "scratch/a", "VersionId": "null"}]}
    )
    assert versioned["Errors"][0]["Code"] == "AccessDenied" and "Deleted" not in versioned


def test_object_acls_as_far_as_s3_uses_them(s3: Any, bucket: str, nimbus: NimbusServer) -> None:
    """BucketOwnerEnforced (the default) takes no ACL but bucket-owner-full-control; where the bucket
    allows ACLs, a public-read object is readable anonymously unless Block Public Access says no."""
    denied(
        lambda: s3.put_object(Bucket=bucket, Key="k", ACL="public-read"), "AccessControlListNotSupported", 400
    )
    s3.put_object(Bucket=bucket, Key="k", Body=b"k", ACL="bucket-owner-full-control")
    denied(
        lambda: s3.put_object_acl(Bucket=bucket, Key="k", ACL="private"), "AccessControlListNotSupported", 400
    )
    assert [grant["Permission"] for grant in s3.get_object_acl(Bucket=bucket, Key="k")["Grants"]] == [
        "FULL_CONTROL"
    ]

    s3.put_bucket_ownership_controls(
        Bucket=bucket, OwnershipControls={"Rules": [{"ObjectOwnership": "ObjectWriter"}]}
    )
    denied(lambda: s3.put_object(Bucket=bucket, Key="open", Body=b"o", ACL="public-read"))  # BlockPublicAcls
    s3.delete_public_access_block(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="open", Body=b"o", ACL="public-read")
    s3.put_object(Bucket=bucket, Key="closed", Body=b"c")
    everyone = {"URI": "http://acs.amazonaws.com/groups/global/AllUsers", "Type": "Group"}
    assert {"Grantee": everyone, "Permission": "READ"} in s3.get_object_acl(Bucket=bucket, Key="open")[
        "Grants"
    ]

    def anonymous(key: str) -> int:
        return requests.get(f"{nimbus.endpoint_url}/{bucket}/{key}", timeout=30).status_code

    assert (anonymous("open"), anonymous("closed")) == (200, 403)
    s3.put_object_acl(Bucket=bucket, Key="closed", ACL="public-read")
    s3.put_object_acl(Bucket=bucket, Key="open", ACL="private")
    assert (anonymous("open"), anonymous("closed")) == (403, 200)
    s3.put_object(Bucket=bucket, Key="closed", Body=b"new")  # a new write without an ACL is private again
    assert anonymous("closed") == 403
    s3.put_object_acl(Bucket=bucket, Key="closed", ACL="public-read")
    s3.put_public_access_block(
        Bucket=bucket, PublicAccessBlockConfiguration={"IgnorePublicAcls": True, "BlockPublicAcls": False}
    )
    assert anonymous("closed") == 403
    denied(lambda: s3.put_object_acl(Bucket=bucket, Key="open", GrantRead='uri="x"'), "NotImplemented", 501)

    writer = f"{bucket}-writer"  # CreateBucket sets ownership; an ACL needs it to allow ACLs
    code = "InvalidBucketAclWithObjectOwnership"
    denied(lambda: s3.create_bucket(Bucket=writer, ACL="authenticated-read"), code, 400)
    denied(lambda: s3.head_bucket(Bucket=writer), "404", 404)  # refused before anything was made
    s3.create_bucket(Bucket=writer, ObjectOwnership="ObjectWriter")
    rules = s3.get_bucket_ownership_controls(Bucket=writer)["OwnershipControls"]["Rules"]
    s3.delete_bucket(Bucket=writer)
    assert rules == [{"ObjectOwnership": "ObjectWriter"}]
