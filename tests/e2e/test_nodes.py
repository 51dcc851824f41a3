"""Two `nimbus serve` nodes sharing one database and one data directory (on SQLite and, in `make test`'s
PostgreSQL run, on PostgreSQL): what one node acknowledges, the other serves at once."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from botocore.exceptions import ClientError
from conftest import NimbusServer, error_code, list_keys


@pytest.fixture(scope="module")
def second_node(nimbus: NimbusServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[NimbusServer]:
    shared = {name: value for name, value in nimbus.settings.items() if name == "NIMBUS_DATABASE_URL"}
    node = NimbusServer(nimbus.data_dir, tmp_path_factory.mktemp("second-node"), settings=shared)
    node.start()
    try:
        yield node
    finally:
        node.stop()


def test_objects_written_through_one_node_read_through_the_other(
    nimbus: NimbusServer, second_node: NimbusServer, s3: Any, bucket: str
) -> None:
    other = second_node.client("s3")
    s3.put_object(Bucket=bucket, Key="from-first", Body=b"first node")
    assert other.get_object(Bucket=bucket, Key="from-first")["Body"].read() == b"first node"
    other.put_object(Bucket=bucket, Key="from-first", Body=b"overwritten on the second")
    other.put_object(Bucket=bucket, Key="from-second", Body=b"second node")
    assert s3.get_object(Bucket=bucket, Key="from-first")["Body"].read() == b"overwritten on the second"
    assert list_keys(s3, bucket) == list_keys(other, bucket) == ["from-first", "from-second"]

    other.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    first_version = s3.put_object(Bucket=bucket, Key="versioned", Body=b"one")["VersionId"]
    second_version = other.put_object(Bucket=bucket, Key="versioned", Body=b"two")["VersionId"]
    listed = s3.list_object_versions(Bucket=bucket, Prefix="versioned")["Versions"]
    assert [(entry["VersionId"], entry["IsLatest"]) for entry in listed] == [
        (second_version, True),
        (first_version, False),
    ]
    s3.delete_object(Bucket=bucket, Key="from-second")
    with pytest.raises(ClientError) as missing:
        other.head_object(Bucket=bucket, Key="from-second")
    assert error_code(missing) == "404"


def test_a_key_made_on_one_node_signs_on_the_other_until_deleted_there(
    nimbus: NimbusServer, second_node: NimbusServer
) -> None:
    iam = nimbus.client("iam")
    iam.create_user(UserName="two-node-user")
    iam.attach_user_policy(
        UserName="two-node-user", PolicyArn="arn:aws:iam::aws:policy/AmazonS3ReadOnlyAccess"
    )
    key = iam.create_access_key(UserName="two-node-user")["AccessKey"]
    try:
        user_client = second_node.client(
            "s3", aws_access_key_id=key["AccessKeyId"], aws_secret_access_key=key["SecretAccessKey"]
        )
        user_client.list_buckets()
        with pytest.raises(ClientError) as denied:
            user_client.create_bucket(Bucket="two-node-user-may-not")
        assert error_code(denied) == "AccessDenied"
        second_node.client("iam").delete_access_key(UserName="two-node-user", AccessKeyId=key["AccessKeyId"])
        with pytest.raises(ClientError) as refused:
            nimbus.client(
                "s3", aws_access_key_id=key["AccessKeyId"], aws_secret_access_key=key["SecretAccessKey"]
            ).list_buckets()
        assert error_code(refused) == "InvalidAccessKeyId"
    finally:
        for access_key in iam.list_access_keys(UserName="two-node-user")["AccessKeyMetadata"]:
            iam.delete_access_key(UserName="two-node-user", AccessKeyId=access_key["AccessKeyId"])
        iam.detach_user_policy(
            UserName="two-node-user", PolicyArn="arn:aws:iam::aws:policy/AmazonS3ReadOnlyAccess"
        )
        iam.delete_user(UserName="two-node-user")
