"""Concurrent writers lose nothing, on SQLite and on PostgreSQL (`make test` runs this module on both):
versioned PUTs and multipart completes racing on one key, IAM policy versions racing for the last
free slots, and S3 listings in UTF-8 byte order, paged, whatever the database's collation."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

import pytest
from botocore.exceptions import ClientError
from conftest import NimbusServer, error_code, http_status, md5_etag

WRITERS = 8
T = TypeVar("T")


def race(count: int, work: Callable[[int], T]) -> list[T]:
    """Runs ``work(0..count-1)`` on ``count`` threads released at once; their results, in order."""
    start = threading.Barrier(count)

    def run(index: int) -> T:
        start.wait()
        return work(index)

    with ThreadPoolExecutor(count) as pool:
        return list(pool.map(run, range(count)))


def allowing(action: str) -> str:
    statement = {"Effect": "Allow", "Action": action, "Resource": "*"}
    return json.dumps({"Version": "2012-10-17", "Statement": [statement]})


def version_entries(s3: Any, bucket: str, page_size: int) -> list[dict[str, Any]]:
    entries: list[dict[str, Any]] = []
    pages = s3.get_paginator("list_object_versions").paginate(
        Bucket=bucket, PaginationConfig={"PageSize": page_size}
    )
    for page in pages:
        entries += page.get("Versions", [])
    return entries


@pytest.fixture
def versioned_bucket(s3: Any, bucket: str) -> str:
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    return bucket


def test_concurrent_versioned_puts_keep_every_version(
    nimbus: NimbusServer, s3: Any, versioned_bucket: str
) -> None:
    rounds = 6
    clients = [nimbus.client("s3") for _ in range(WRITERS)]

    def put_versions(writer: int) -> list[tuple[str, bytes]]:
        client = clients[writer]
        written = []
        for n in range(rounds):
            data = f"writer {writer} round {n}".encode()
            answer = client.put_object(Bucket=versioned_bucket, Key="shared", Body=data)
            written.append((answer["VersionId"], data))
        return written

    acknowledged = dict(pair for written in race(WRITERS, put_versions) for pair in written)
    assert len(acknowledged) == WRITERS * rounds, "two writes were given one version id"

    listed = version_entries(s3, versioned_bucket, page_size=7)
    assert sorted(entry["VersionId"] for entry in listed) == sorted(acknowledged)
    latest = [entry["VersionId"] for entry in listed if entry["IsLatest"]]
    assert len(latest) == 1
    assert listed[0]["VersionId"] == latest[0], "the newest version is listed first"
    current = s3.get_object(Bucket=versioned_bucket, Key="shared")
    assert current["VersionId"] == latest[0]
    assert current["Body"].read() == acknowledged[latest[0]]
    for version_id, data in acknowledged.items():
        answer = s3.get_object(Bucket=versioned_bucket, Key="shared", VersionId=version_id)
        assert answer["Body"].read() == data


def test_concurrent_multipart_completes_on_one_key(
    nimbus: NimbusServer, s3: Any, versioned_bucket: str
) -> None:
    bodies = [bytes([65 + index]) * 70_000 for index in range(WRITERS)]
    uploads = []
    for data in bodies:
        upload_id = s3.create_multipart_upload(Bucket=versioned_bucket, Key="assembled")["UploadId"]
        part = s3.upload_part(
            Bucket=versioned_bucket, Key="assembled", UploadId=upload_id, PartNumber=1, Body=data
        )
        uploads.append((upload_id, part["ETag"]))

    clients = [nimbus.client("s3") for _ in range(WRITERS)]

    def complete(index: int) -> str:
        upload_id, etag = uploads[index]
        answer = clients[index].complete_multipart_upload(
            Bucket=versioned_bucket,
            Key="assembled",
            UploadId=upload_id,
            MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": etag}]},
        )
        return str(answer["VersionId"])

    version_ids = race(WRITERS, complete)
    assert len(set(version_ids)) == WRITERS
    for version_id, data in zip(version_ids, bodies, strict=True):
        answer = s3.get_object(Bucket=versioned_bucket, Key="assembled", VersionId=version_id)
        assert answer["Body"].read() == data, "a completed object is torn or holds another upload's bytes"
    assert s3.list_multipart_uploads(Bucket=versioned_bucket).get("Uploads", []) == []
    listed = version_entries(s3, versioned_bucket, page_size=3)
    assert sorted(entry["VersionId"] for entry in listed) == sorted(version_ids)


def test_concurrent_policy_versions_fill_exactly_the_free_slots(nimbus: NimbusServer) -> None:
    iam = nimbus.client("iam")
    clients = [nimbus.client("iam") for _ in range(2 * WRITERS)]
    # a race is lost now and then, not every time: several rounds, each on a policy of its own
    for round_number in range(10):
        name = f"racing-versions-{round_number}"
        arn = iam.create_policy(PolicyName=name, PolicyDocument=allowing("s3:GetObject"))["Policy"]["Arn"]

        def create_version(writer: int, arn: str = arn) -> str:
            try:
                answer = clients[writer].create_policy_version(
                    PolicyArn=arn, PolicyDocument=allowing(f"s3:Get{writer}"), SetAsDefault=True
                )
            except ClientError as error:
                assert (error_code(error), http_status(error)) == ("LimitExceeded", 409)
                return "refused"
            return str(answer["PolicyVersion"]["VersionId"])

        outcomes = race(len(clients), create_version)
        created = sorted(outcome for outcome in outcomes if outcome != "refused")
        assert created == ["v2", "v3", "v4", "v5"], "a policy has at most 5 versions, each with its own id"
        listed = iam.list_policy_versions(PolicyArn=arn)["Versions"]
        assert sorted(version["VersionId"] for version in listed) == ["v1", *created]
        defaults = [version["VersionId"] for version in listed if version["IsDefaultVersion"]]
        assert defaults == [iam.get_policy(PolicyArn=arn)["Policy"]["DefaultVersionId"]]
        for version in listed:
            if not version["IsDefaultVersion"]:
                iam.delete_policy_version(PolicyArn=arn, VersionId=version["VersionId"])
        iam.delete_policy(PolicyArn=arn)


# Byte order puts upper case before lower case and punctuation between them; a linguistic collation
# (en-US, the tests' PostgreSQL default) would interleave them and put "é" beside "e".
KEYS = ["Zebra", "a b", "a-b", "a/c", "a/d/e", "a_b", "ab", "b", "e", "f", "é", "ü/x", "中文"]


def test_concurrent_puts_list_in_byte_order_page_by_page(nimbus: NimbusServer, s3: Any, bucket: str) -> None:
    clients = [nimbus.client("s3") for _ in KEYS]

    def put(index: int) -> None:
        clients[index].put_object(Bucket=bucket, Key=KEYS[index], Body=KEYS[index].encode())

    race(len(KEYS), put)
    in_byte_order = sorted(KEYS, key=lambda key: key.encode())
    keys = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, PaginationConfig={"PageSize": 2}):
        keys += [entry["Key"] for entry in page.get("Contents", [])]
    assert keys == in_byte_order
    answer = s3.list_objects_v2(Bucket=bucket, Delimiter="/", StartAfter="a b")
    assert [entry["Key"] for entry in answer["Contents"]] == ["a-b", "a_b", "ab", "b", "e", "f", "é", "中文"]
    assert [prefix["Prefix"] for prefix in answer["CommonPrefixes"]] == ["a/", "ü/"]
    assert s3.get_object(Bucket=bucket, Key="é")["ETag"] == md5_etag("é".encode())
