"""Bucket operations through boto3."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit, urlunsplit

import botocore.config
import pytest
from botocore.exceptions import ClientError
from conftest import NimbusServer, error_code, http_status, unique_bucket_name


def test_create_head_list_delete_bucket(nimbus: NimbusServer, s3: Any) -> None:
    name = unique_bucket_name("life")
    resp = s3.create_bucket(Bucket=name)
    assert resp["ResponseMetadata"]["HTTPStatusCode"] == 200
    assert resp["ResponseMetadata"]["HTTPHeaders"].get("x-amz-request-id")
    assert (nimbus.s3_root() / name).is_dir()

    head = s3.head_bucket(Bucket=name)
    assert head["ResponseMetadata"]["HTTPStatusCode"] == 200

    names = [b["Name"] for b in s3.list_buckets()["Buckets"]]
    assert names.count(name) == 1
    listed = next(b for b in s3.list_buckets()["Buckets"] if b["Name"] == name)
    assert listed["CreationDate"] is not None

    s3.delete_bucket(Bucket=name)
    assert name not in [b["Name"] for b in s3.list_buckets()["Buckets"]]
    assert not (nimbus.s3_root() / name).exists()
    with pytest.raises(ClientError) as exc:
        s3.head_bucket(Bucket=name)
    assert http_status(exc) == 404


def test_missing_bucket_errors(s3: Any) -> None:
    name = unique_bucket_name("missing")
    with pytest.raises(ClientError) as exc:
        s3.list_objects_v2(Bucket=name)
    assert error_code(exc) == "NoSuchBucket"
    assert http_status(exc) == 404
    with pytest.raises(ClientError) as exc:
        s3.delete_bucket(Bucket=name)
    assert error_code(exc) == "NoSuchBucket"


def test_create_existing_bucket_is_owned_by_you(s3: Any, bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="kept", Body=b"kept")
    try:
        s3.create_bucket(Bucket=bucket)
    except ClientError as exc:
        assert error_code(exc) == "BucketAlreadyOwnedByYou"
        assert http_status(exc) == 409
    # else: us-east-1's legacy answer, 200 OK; either way the bucket and its objects are untouched
    assert s3.get_object(Bucket=bucket, Key="kept")["Body"].read() == b"kept"
    names = [b["Name"] for b in s3.list_buckets()["Buckets"]]
    assert names.count(bucket) == 1


@pytest.mark.parametrize(
    "name",
    [
        "ab",  # too short
        "a" * 64,  # too long
        "UpperCase",
        "under_score",
        "-leading-dash",
        "trailing-dash-",
        "double..dot",
        "192.168.5.4",  # formatted like an IP address
        "xn--prefixed",
        "suffix-s3alias",
    ],
)
def test_invalid_bucket_names(nimbus: NimbusServer, s3: Any, name: str) -> None:
    before = set(p.name for p in nimbus.s3_root().iterdir()) if nimbus.s3_root().exists() else set()
    with pytest.raises(ClientError) as exc:
        s3.create_bucket(Bucket=name)
    assert error_code(exc) == "InvalidBucketName"
    assert http_status(exc) == 400
    after = set(p.name for p in nimbus.s3_root().iterdir()) if nimbus.s3_root().exists() else set()
    assert after == before
    assert name not in [b["Name"] for b in s3.list_buckets()["Buckets"]]


def test_bucket_not_empty(s3: Any, bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="keep.txt", Body=b"x")
    with pytest.raises(ClientError) as exc:
        s3.delete_bucket(Bucket=bucket)
    assert error_code(exc) == "BucketNotEmpty"
    assert http_status(exc) == 409
    assert s3.get_object(Bucket=bucket, Key="keep.txt")["Body"].read() == b"x"


def test_get_bucket_location(s3: Any, bucket: str) -> None:
    resp = s3.get_bucket_location(Bucket=bucket)
    # us-east-1 is reported as an empty LocationConstraint (None in boto3)
    assert resp["LocationConstraint"] in (None, "")


def test_bucket_with_location_constraint(s3: Any) -> None:
    name = unique_bucket_name("eu")
    s3.create_bucket(Bucket=name, CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
    try:
        assert s3.get_bucket_location(Bucket=name)["LocationConstraint"] == "eu-west-1"
    finally:
        s3.delete_bucket(Bucket=name)


def test_virtual_host_style(nimbus: NimbusServer, bucket: str) -> None:
    """Requests addressed as http://<bucket>.localhost:PORT/<key> (the Host header names the bucket)."""
    client = nimbus.client(
        "s3",
        endpoint_url=f"http://localhost:{nimbus.port}",
        config=botocore.config.Config(s3={"addressing_style": "virtual"}),
    )
    hosts: list[str] = []

    def to_loopback(request: Any, **_: Any) -> None:
        # *.localhost does not resolve here: connect to 127.0.0.1 and keep the signed Host header
        parts = urlsplit(request.url)
        hosts.append(parts.netloc)
        request.headers["Host"] = parts.netloc
        request.url = urlunsplit(parts._replace(netloc=f"127.0.0.1:{nimbus.port}"))

    client.meta.events.register("before-send.s3", to_loopback)
    client.put_object(Bucket=bucket, Key="dir/vhost.txt", Body=b"virtual")
    assert client.get_object(Bucket=bucket, Key="dir/vhost.txt")["Body"].read() == b"virtual"
    keys = [o["Key"] for o in client.list_objects_v2(Bucket=bucket).get("Contents", [])]
    assert keys == ["dir/vhost.txt"]
    assert hosts and all(h == f"{bucket}.localhost:{nimbus.port}" for h in hosts)
    assert (nimbus.s3_root() / bucket / "dir" / "vhost.txt").read_bytes() == b"virtual"


def test_bucket_tagging(s3: Any, bucket: str) -> None:
    with pytest.raises(ClientError) as exc:
        s3.get_bucket_tagging(Bucket=bucket)
    assert (error_code(exc), http_status(exc)) == ("NoSuchTagSet", 404)
    tags = [{"Key": "cost-center", "Value": ""}, {"Key": "team", "Value": "ml"}]  # S3 sorts them by key
    s3.put_bucket_tagging(Bucket=bucket, Tagging={"TagSet": tags[::-1]})
    assert s3.get_bucket_tagging(Bucket=bucket)["TagSet"] == tags
    for bad in (
        [{"Key": "team", "Value": "a"}, {"Key": "team", "Value": "b"}],
        [{"Key": "aws:reserved", "Value": "x"}],
        [{"Key": f"k{n}", "Value": "v"} for n in range(51)],
    ):
        with pytest.raises(ClientError) as exc:
            s3.put_bucket_tagging(Bucket=bucket, Tagging={"TagSet": bad})
        assert (error_code(exc), http_status(exc)) == ("InvalidTag", 400)
    assert s3.get_bucket_tagging(Bucket=bucket)["TagSet"] == tags
    assert s3.delete_bucket_tagging(Bucket=bucket)["ResponseMetadata"]["HTTPStatusCode"] == 204
    with pytest.raises(ClientError) as exc:
        s3.get_bucket_tagging(Bucket=bucket)
    assert error_code(exc) == "NoSuchTagSet"
