"""Presigned URLs (SigV2 and SigV4 query forms) and presigned POST, used with plain requests."""

from __future__ import annotations

from typing import Any

import botocore.config
import pytest
import requests
from conftest import NimbusServer, list_keys, snapshot_files

SIGNATURE_VERSIONS = ["default", "s3v4"]


def presigning_client(nimbus: NimbusServer, version: str) -> Any:
    if version == "default":
        return nimbus.client("s3")
    return nimbus.client("s3", config=botocore.config.Config(signature_version=version))


def assert_query_form(url: str, version: str) -> None:
    if version == "default":  # botocore presigns S3 URLs with SigV2 unless told otherwise
        assert "AWSAccessKeyId=" in url and "Signature=" in url and "Expires=" in url
    else:
        assert "X-Amz-Algorithm=AWS4-HMAC-SHA256" in url and "X-Amz-Signature=" in url


@pytest.mark.parametrize("version", SIGNATURE_VERSIONS)
def test_presigned_get(nimbus: NimbusServer, s3: Any, bucket: str, version: str) -> None:
    s3.put_object(Bucket=bucket, Key="dir/shared file.txt", Body=b"presigned body", ContentType="text/plain")
    client = presigning_client(nimbus, version)
    url = client.generate_presigned_url(
        "get_object", Params={"Bucket": bucket, "Key": "dir/shared file.txt"}, ExpiresIn=300
    )
    assert_query_form(url, version)
    resp = requests.get(url, timeout=30)
    assert resp.status_code == 200, resp.text
    assert resp.content == b"presigned body"
    assert resp.headers["Content-Type"] == "text/plain"
    assert resp.headers.get("x-amz-request-id")

    # the same signature does not open another key
    other = url.replace("shared%20file.txt", "other.txt")
    assert other != url
    denied = requests.get(other, timeout=30)
    assert denied.status_code == 403
    assert "<Code>SignatureDoesNotMatch</Code>" in denied.text


@pytest.mark.parametrize("version", SIGNATURE_VERSIONS)
def test_presigned_get_with_response_overrides(
    nimbus: NimbusServer, s3: Any, bucket: str, version: str
) -> None:
    s3.put_object(Bucket=bucket, Key="report.csv", Body=b"a,b\n1,2\n")
    url = presigning_client(nimbus, version).generate_presigned_url(
        "get_object",
        Params={
            "Bucket": bucket,
            "Key": "report.csv",
            "ResponseContentDisposition": 'attachment; filename="r.csv"',
            "ResponseContentType": "text/csv",
        },
    )
    resp = requests.get(url, timeout=30)
    assert resp.status_code == 200, resp.text
    assert resp.headers["Content-Disposition"] == 'attachment; filename="r.csv"'
    assert resp.headers["Content-Type"] == "text/csv"
    assert resp.content == b"a,b\n1,2\n"


@pytest.mark.parametrize("version", SIGNATURE_VERSIONS)
def test_presigned_put(nimbus: NimbusServer, s3: Any, bucket: str, version: str) -> None:
    client = presigning_client(nimbus, version)
    url = client.generate_presigned_url(
        "put_object", Params={"Bucket": bucket, "Key": "up/loaded.bin"}, ExpiresIn=300
    )
    assert_query_form(url, version)
    data = bytes(range(256)) * 64
    resp = requests.put(url, data=data, timeout=30)
    assert resp.status_code == 200, resp.text
    assert s3.get_object(Bucket=bucket, Key="up/loaded.bin")["Body"].read() == data
    assert (nimbus.s3_root() / bucket / "up" / "loaded.bin").read_bytes() == data


@pytest.mark.parametrize("version", SIGNATURE_VERSIONS)
def test_presigned_post(nimbus: NimbusServer, s3: Any, bucket: str, version: str) -> None:
    client = presigning_client(nimbus, version)
    post = client.generate_presigned_post(
        bucket,
        "posted/${filename}",
        Fields={"Content-Type": "text/plain"},
        Conditions=[
            ["content-length-range", 1, 1024],
            ["starts-with", "$key", "posted/"],
            {"Content-Type": "text/plain"},
        ],
        ExpiresIn=300,
    )
    if version == "s3v4":
        assert "x-amz-signature" in post["fields"]
    else:
        assert "signature" in post["fields"] and "AWSAccessKeyId" in post["fields"]
    body = b"hello from a browser form\n"
    resp = requests.post(post["url"], data=post["fields"], files={"file": ("note.txt", body)}, timeout=30)
    assert resp.status_code == 204, resp.text
    got = s3.get_object(Bucket=bucket, Key="posted/note.txt")
    assert got["Body"].read() == body
    assert got["ContentType"] == "text/plain"
    assert (nimbus.s3_root() / bucket / "posted" / "note.txt").read_bytes() == body

    # a file over the content-length-range is refused and nothing is written
    before = snapshot_files(nimbus.s3_root() / bucket)
    big = b"x" * 2048
    refused = requests.post(post["url"], data=post["fields"], files={"file": ("big.txt", big)}, timeout=30)
    assert refused.status_code == 400, refused.text
    assert "<Code>EntityTooLarge</Code>" in refused.text
    assert snapshot_files(nimbus.s3_root() / bucket) == before
    assert list_keys(s3, bucket) == ["posted/note.txt"]

    # a field that breaks the policy is refused
    tampered = dict(post["fields"], **{"Content-Type": "text/html"})
    refused = requests.post(post["url"], data=tampered, files={"file": ("x.txt", b"x")}, timeout=30)
    assert refused.status_code == 403, refused.text
    assert "<Code>AccessDenied</Code>" in refused.text
    assert list_keys(s3, bucket) == ["posted/note.txt"]
