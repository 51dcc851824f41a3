"""Bad input gets a clear AWS-style error and changes nothing: not the listing, not the disk."""

from __future__ import annotations

import base64
import contextlib
import hashlib
import os
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError
from conftest import (
    NimbusServer,
    error_code,
    http_status,
    list_keys,
    raw_request,
    signed_request,
    snapshot_files,
)


def md5_b64(data: bytes) -> str:
    return base64.b64encode(hashlib.md5(data).digest()).decode()


def tree(root: Path) -> set[str]:
    """Every path under root (files and directories), relative to it."""
    found: set[str] = set()
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            found.add(str((Path(dirpath) / name).relative_to(root)))
    return found


class Unchanged:
    """Snapshot of the objects on disk, every path near the data dir, and the bucket listing."""

    def __init__(self, nimbus: NimbusServer, s3: Any, bucket: str) -> None:
        self.nimbus, self.s3, self.bucket = nimbus, s3, bucket
        self.files = snapshot_files(nimbus.s3_root())
        self.around = tree(nimbus.data_dir.parent)
        self.keys = list_keys(s3, bucket)

    def check(self) -> None:
        assert snapshot_files(self.nimbus.s3_root()) == self.files
        new_paths = tree(self.nimbus.data_dir.parent) - self.around
        # the server may keep its own state inside the data dir (database, upload parts) ...
        assert {p for p in new_paths if not p.startswith("data/")} == set()
        # ... but nothing a traversal key names may appear anywhere
        assert {p for p in new_paths if Path(p).name in TRAVERSAL_TARGETS} == set()
        assert list_keys(self.s3, self.bucket) == self.keys


TRAVERSAL_TARGETS = {"passwd", "b", "x", "outside", "escape", "short.bin", "new.txt", "crc.txt", "meta"}


@pytest.fixture
def seeded(nimbus: NimbusServer, s3: Any, bucket: str) -> Iterator[Unchanged]:
    s3.put_object(Bucket=bucket, Key="keep/one.txt", Body=b"one")
    s3.put_object(Bucket=bucket, Key="keep/two.txt", Body=b"two")
    snap = Unchanged(nimbus, s3, bucket)
    yield snap
    snap.check()


# ---- malformed XML -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "body",
    [
        b"<Delete><Object><Key>keep/one.txt</Key></Object>",  # truncated
        b"this is not xml at all",
        b"<Delete><Object><VersionId>v</VersionId></Object></Delete>",  # Object without its required Key
        b"<Delete><Quiet>perhaps</Quiet><Object><Key>keep/one.txt</Key></Object></Delete>",  # not a boolean
        b'<?xml version="1.0"?><!DOCTYPE d [<!ENTITY e SYSTEM "file:///etc/passwd">]><Delete><Object>'
        b"<Key>&e;</Key></Object></Delete>",  # external entity
    ],
)
def test_delete_objects_malformed_xml(nimbus: NimbusServer, seeded: Unchanged, body: bytes) -> None:
    resp = signed_request(
        nimbus, "POST", f"/{seeded.bucket}?delete", body=body, headers={"Content-MD5": md5_b64(body)}
    )
    assert resp.status == 400, resp.text
    assert resp.error_code() == "MalformedXML", resp.text
    assert "root:" not in resp.text


@pytest.mark.parametrize(
    "body",
    [
        b"<CompleteMultipartUpload><Part><PartNumber>1</PartNumber>",
        b"{json: instead}",
        b"<CompleteMultipartUpload><Part><PartNumber>one</PartNumber><ETag>x</ETag></Part>"
        b"</CompleteMultipartUpload>",
    ],
)
def test_complete_multipart_malformed_xml(nimbus: NimbusServer, seeded: Unchanged, body: bytes) -> None:
    s3, bucket = seeded.s3, seeded.bucket
    upload_id = s3.create_multipart_upload(Bucket=bucket, Key="mp")["UploadId"]
    etag = s3.upload_part(Bucket=bucket, Key="mp", UploadId=upload_id, PartNumber=1, Body=b"part")["ETag"]
    resp = signed_request(nimbus, "POST", f"/{bucket}/mp?uploadId={upload_id}", body=body)
    assert resp.status == 400, resp.text
    assert resp.error_code() == "MalformedXML", resp.text
    # the upload is untouched and still completes
    assert [p["ETag"] for p in s3.list_parts(Bucket=bucket, Key="mp", UploadId=upload_id)["Parts"]] == [etag]
    s3.abort_multipart_upload(Bucket=bucket, Key="mp", UploadId=upload_id)


# ---- wrong types and out-of-range members, sent raw ---------------------------------------------------


@pytest.mark.parametrize("query", ["list-type=2&max-keys=abc", "list-type=2&max-keys=-1", "max-keys=1.5"])
def test_list_with_bad_max_keys(nimbus: NimbusServer, seeded: Unchanged, query: str) -> None:
    resp = signed_request(nimbus, "GET", f"/{seeded.bucket}?{query}")
    assert resp.status == 400, resp.text
    assert resp.error_code() == "InvalidArgument", resp.text


@pytest.mark.parametrize("part_number", ["abc", "0", "10001", "-3"])
def test_upload_part_with_bad_part_number(nimbus: NimbusServer, seeded: Unchanged, part_number: str) -> None:
    s3, bucket = seeded.s3, seeded.bucket
    upload_id = s3.create_multipart_upload(Bucket=bucket, Key="mp2")["UploadId"]
    resp = signed_request(
        nimbus, "PUT", f"/{bucket}/mp2?partNumber={part_number}&uploadId={upload_id}", body=b"data"
    )
    assert resp.status == 400, resp.text
    assert resp.error_code() == "InvalidArgument", resp.text
    assert s3.list_parts(Bucket=bucket, Key="mp2", UploadId=upload_id).get("Parts", []) == []
    s3.abort_multipart_upload(Bucket=bucket, Key="mp2", UploadId=upload_id)


def test_copy_without_a_valid_source(nimbus: NimbusServer, seeded: Unchanged) -> None:
    resp = signed_request(
        nimbus, "PUT", f"/{seeded.bucket}/copied", headers={"x-amz-copy-source": "no-slash-in-here"}
    )
    assert resp.status == 400, resp.text
    assert resp.error_code() == "InvalidArgument", resp.text


def test_bad_enum_value(nimbus: NimbusServer, seeded: Unchanged) -> None:
    resp = signed_request(
        nimbus,
        "PUT",
        f"/{seeded.bucket}/copied",
        headers={"x-amz-copy-source": f"/{seeded.bucket}/keep/one.txt", "x-amz-metadata-directive": "MAYBE"},
    )
    assert resp.status == 400, resp.text
    assert resp.error_code() == "InvalidArgument", resp.text


def test_metadata_too_large(seeded: Unchanged) -> None:
    with pytest.raises(ClientError) as exc:
        seeded.s3.put_object(Bucket=seeded.bucket, Key="meta", Body=b"x", Metadata={"big": "v" * 3000})
    assert error_code(exc) == "MetadataTooLarge"
    assert http_status(exc) == 400


def test_delete_objects_without_a_digest_deletes_nothing(nimbus: NimbusServer, seeded: Unchanged) -> None:
    # S3 requires Content-MD5 or an x-amz-checksum-* header on DeleteObjects
    body = b"<Delete><Object><Key>keep/one.txt</Key></Object></Delete>"
    resp = signed_request(nimbus, "POST", f"/{seeded.bucket}?delete", body=body)
    assert resp.status == 400, resp.text
    assert resp.error_code() == "InvalidRequest", resp.text


@pytest.mark.parametrize(
    ("header", "value", "code"),
    [
        ("Content-MD5", base64.b64encode(hashlib.md5(b"other").digest()).decode(), "BadDigest"),
        ("Content-MD5", "not-base64!", "InvalidDigest"),
        (
            "x-amz-checksum-crc32",
            base64.b64encode(zlib.crc32(b"other").to_bytes(4, "big")).decode(),
            "BadDigest",
        ),
        ("x-amz-checksum-sha256", base64.b64encode(hashlib.sha256(b"other").digest()).decode(), "BadDigest"),
    ],
)
def test_delete_objects_with_a_wrong_digest_deletes_nothing(
    nimbus: NimbusServer, seeded: Unchanged, header: str, value: str, code: str
) -> None:
    body = b"<Delete><Object><Key>keep/one.txt</Key></Object></Delete>"
    resp = signed_request(nimbus, "POST", f"/{seeded.bucket}?delete", body=body, headers={header: value})
    assert resp.status == 400, resp.text
    assert resp.error_code() == code, resp.text


# ---- oversize headers ------------------------------------------------------------------------------


def test_oversize_header_section(nimbus: NimbusServer, seeded: Unchanged) -> None:
    headers = {f"x-padding-{i}": "p" * 1000 for i in range(9)}  # > 8 KiB of headers
    resp = raw_request(nimbus, "GET", f"/{seeded.bucket}/keep/one.txt", headers=headers)
    assert resp.status == 400, resp.text
    signed = signed_request(nimbus, "PUT", f"/{seeded.bucket}/big-headers", headers=headers, body=b"x")
    assert signed.status == 400, signed.text
    # the server is still fine afterwards
    assert seeded.s3.get_object(Bucket=seeded.bucket, Key="keep/one.txt")["Body"].read() == b"one"


# ---- path traversal -------------------------------------------------------------------------------------

TRAVERSALS = [
    "../../etc/passwd",
    "a/../../b",
    "%2e%2e/x",
    "%2E%2E/%2E%2E/outside",
    "..%2f..%2fescape",
    "a%2f..%2f..%2f..%2fb",
    "..",
    "./x",
    "a/./b",
    "%2e/x",
]


@pytest.mark.parametrize("key_path", TRAVERSALS)
def test_traversal_keys_stay_inside_their_bucket(
    nimbus: NimbusServer, seeded: Unchanged, key_path: str
) -> None:
    """S3 accepts such keys, and so does Nimbus: as objects kept aside, which name no path outside
    (or inside) the bucket's folder; reading or deleting them touches nothing else."""
    outside = nimbus.data_dir.parent / "outside"
    outside.write_bytes(b"must never be served or touched")
    escape = nimbus.data_dir / "escape"
    escape.write_bytes(b"data dir file")
    seeded.around = tree(nimbus.data_dir.parent)  # those two are part of the baseline
    path = f"/{seeded.bucket}/{key_path}"
    try:
        assert signed_request(nimbus, "GET", path).error_code() == "NoSuchKey"
        put = signed_request(nimbus, "PUT", path, body=b"traversal payload")
        assert put.status == 200, put.text
        got = signed_request(nimbus, "GET", path)
        assert (got.status, got.body) == (200, b"traversal payload")
        assert signed_request(nimbus, "DELETE", path).status == 204
        assert signed_request(nimbus, "GET", path).error_code() == "NoSuchKey"
        assert outside.read_bytes() == b"must never be served or touched"
        assert escape.read_bytes() == b"data dir file"
    finally:
        outside.unlink()
        escape.unlink()
        seeded.around = tree(nimbus.data_dir.parent)


def test_literal_percent_key_is_a_normal_key(nimbus: NimbusServer, s3: Any, bucket: str) -> None:
    """A key that contains the characters %2e%2e (sent encoded by boto3) is not a traversal."""
    s3.put_object(Bucket=bucket, Key="%2e%2e/x", Body=b"literal")
    assert s3.get_object(Bucket=bucket, Key="%2e%2e/x")["Body"].read() == b"literal"
    assert (nimbus.s3_root() / bucket / "%2e%2e" / "x").read_bytes() == b"literal"
    assert list_keys(s3, bucket) == ["%2e%2e/x"]


# ---- integrity checks ------------------------------------------------------------------------------------


def test_bad_content_md5(nimbus: NimbusServer, seeded: Unchanged) -> None:
    s3, bucket = seeded.s3, seeded.bucket
    with pytest.raises(ClientError) as exc:
        s3.put_object(Bucket=bucket, Key="new.txt", Body=b"actual body", ContentMD5=md5_b64(b"other body"))
    assert error_code(exc) == "BadDigest"
    assert http_status(exc) == 400
    # an existing object is not replaced by a failed write
    with pytest.raises(ClientError) as exc:
        s3.put_object(Bucket=bucket, Key="keep/one.txt", Body=b"replacement", ContentMD5=md5_b64(b"nope"))
    assert error_code(exc) == "BadDigest"
    assert s3.get_object(Bucket=bucket, Key="keep/one.txt")["Body"].read() == b"one"
    # not base64 / not 16 bytes
    resp = signed_request(
        nimbus, "PUT", f"/{bucket}/new2.txt", body=b"x", headers={"Content-MD5": "!!notmd5"}
    )
    assert resp.status == 400, resp.text
    assert resp.error_code() == "InvalidDigest", resp.text


def test_bad_checksum_crc32(seeded: Unchanged) -> None:
    s3, bucket = seeded.s3, seeded.bucket
    wrong = base64.b64encode(zlib.crc32(b"something else").to_bytes(4, "big")).decode()
    with pytest.raises(ClientError) as exc:
        s3.put_object(Bucket=bucket, Key="crc.txt", Body=b"the real body", ChecksumCRC32=wrong)
    assert error_code(exc) == "BadDigest"
    assert http_status(exc) == 400
    with pytest.raises(ClientError) as exc:
        s3.put_object(Bucket=bucket, Key="keep/two.txt", Body=b"the real body", ChecksumCRC32=wrong)
    assert error_code(exc) == "BadDigest"
    assert s3.get_object(Bucket=bucket, Key="keep/two.txt")["Body"].read() == b"two"


def test_bad_content_md5_on_upload_part(seeded: Unchanged) -> None:
    s3, bucket = seeded.s3, seeded.bucket
    upload_id = s3.create_multipart_upload(Bucket=bucket, Key="mp3")["UploadId"]
    with pytest.raises(ClientError) as exc:
        s3.upload_part(
            Bucket=bucket, Key="mp3", UploadId=upload_id, PartNumber=1, Body=b"part", ContentMD5=md5_b64(b"x")
        )
    assert error_code(exc) == "BadDigest"
    assert s3.list_parts(Bucket=bucket, Key="mp3", UploadId=upload_id).get("Parts", []) == []
    s3.abort_multipart_upload(Bucket=bucket, Key="mp3", UploadId=upload_id)


def test_short_body_is_not_stored(nimbus: NimbusServer, seeded: Unchanged) -> None:
    """A request whose body ends before its Content-Length leaves no object behind."""
    import socket

    from botocore.auth import S3SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    body = b"z" * 100_000
    request = AWSRequest(method="PUT", url=f"{nimbus.endpoint_url}/{seeded.bucket}/short.bin", data=body)
    S3SigV4Auth(Credentials(nimbus.access_key, nimbus.secret_key), "s3", nimbus.region).add_auth(request)
    head = f"PUT /{seeded.bucket}/short.bin HTTP/1.1\r\nHost: {nimbus.host}:{nimbus.port}\r\n"
    head += "".join(f"{k}: {v}\r\n" for k, v in request.headers.items())
    head += f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
    with socket.create_connection((nimbus.host, nimbus.port), timeout=30) as sock:
        sock.sendall(head.encode() + body[:1000])
        sock.shutdown(socket.SHUT_WR)
        with contextlib.suppress(OSError):
            sock.recv(65536)  # whatever the server answers, or its closing the connection
    assert "short.bin" not in list_keys(seeded.s3, seeded.bucket)
    assert not (nimbus.s3_root() / seeded.bucket / "short.bin").exists()
