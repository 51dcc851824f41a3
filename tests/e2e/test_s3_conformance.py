"""S3 protocol details as AWS documents them (and Ceph's s3-tests checks): multipart checksums
(COMPOSITE and FULL_OBJECT), GetObjectAttributes' parts, conditional writes, listing edge cases,
Range/partNumber errors, CreateBucket twice, SigV2 header signing, browser-form uploads with file parts.
The suite itself runs from bench/ (bench/s3_conformance.py)."""

from __future__ import annotations

import base64
import hashlib
import zlib
from typing import Any

import botocore.config
import pytest
import requests
from botocore.exceptions import ClientError
from conftest import NimbusServer, error_code, http_status, list_keys, raw_request, unique_bucket_name

MIB = 1024 * 1024
PARTS = [b"A" * (5 * MIB), b"B" * 1024]


def _b64(digest: bytes) -> str:
    return base64.b64encode(digest).decode()


def _upload(
    s3: Any, bucket: str, key: str, algorithm: str, **create: Any
) -> tuple[str, list[dict[str, Any]]]:
    upload_id = s3.create_multipart_upload(Bucket=bucket, Key=key, ChecksumAlgorithm=algorithm, **create)[
        "UploadId"
    ]
    parts = []
    for number, body in enumerate(PARTS, start=1):
        answer = s3.upload_part(
            Bucket=bucket,
            Key=key,
            UploadId=upload_id,
            PartNumber=number,
            Body=body,
            ChecksumAlgorithm=algorithm,
        )
        parts.append(
            {
                "PartNumber": number,
                "ETag": answer["ETag"],
                f"Checksum{algorithm}": answer[f"Checksum{algorithm}"],
            }
        )
    return upload_id, parts


def test_full_object_crc32_multipart(s3: Any, bucket: str) -> None:
    upload_id, parts = _upload(s3, bucket, "full", "CRC32", ChecksumType="FULL_OBJECT")
    whole = _b64(zlib.crc32(b"".join(PARTS)).to_bytes(4, "big"))
    wrong = _b64((zlib.crc32(b"".join(PARTS)) ^ 1).to_bytes(4, "big"))
    with pytest.raises(ClientError) as refused:
        s3.complete_multipart_upload(
            Bucket=bucket,
            Key="full",
            UploadId=upload_id,
            MultipartUpload={"Parts": parts},
            ChecksumCRC32=wrong,
        )
    assert error_code(refused) == "BadDigest" and list_keys(s3, bucket) == []
    done = s3.complete_multipart_upload(
        Bucket=bucket, Key="full", UploadId=upload_id, MultipartUpload={"Parts": parts}, ChecksumCRC32=whole
    )
    assert (done["ChecksumCRC32"], done["ChecksumType"]) == (whole, "FULL_OBJECT")
    head = s3.head_object(Bucket=bucket, Key="full", ChecksumMode="ENABLED")
    assert (head["ChecksumCRC32"], head["ChecksumType"]) == (whole, "FULL_OBJECT")
    assert "ChecksumCRC32" not in s3.head_object(Bucket=bucket, Key="full")
    part = s3.get_object(Bucket=bucket, Key="full", PartNumber=2, ChecksumMode="ENABLED")
    assert part["Body"].read() == PARTS[1]  # botocore checked the part's CRC32 against its bytes
    assert (part["ChecksumCRC32"], part["PartsCount"]) == (parts[1]["ChecksumCRC32"], 2)
    # a retried Complete (its answer was lost) answers the same
    again = s3.complete_multipart_upload(
        Bucket=bucket, Key="full", UploadId=upload_id, MultipartUpload={"Parts": parts}
    )
    assert (again["ETag"], again["ChecksumCRC32"]) == (done["ETag"], whole)


def test_composite_sha256_multipart_and_attributes(s3: Any, bucket: str) -> None:
    upload_id, parts = _upload(s3, bucket, "composite", "SHA256")
    digests = b"".join(hashlib.sha256(body).digest() for body in PARTS)
    composite = f"{_b64(hashlib.sha256(digests).digest())}-2"
    done = s3.complete_multipart_upload(
        Bucket=bucket,
        Key="composite",
        UploadId=upload_id,
        MultipartUpload={"Parts": parts},
        ChecksumSHA256=composite,
    )
    assert (done["ChecksumSHA256"], done["ChecksumType"]) == (composite, "COMPOSITE")
    attributes = s3.get_object_attributes(
        Bucket=bucket, Key="composite", ObjectAttributes=["Checksum", "ObjectParts", "ObjectSize"], MaxParts=1
    )
    assert attributes["Checksum"] == {"ChecksumSHA256": composite, "ChecksumType": "COMPOSITE"}
    first = attributes["ObjectParts"]
    assert (first["TotalPartsCount"], first["IsTruncated"], first["NextPartNumberMarker"]) == (2, True, 1)
    assert first["Parts"] == [
        {"PartNumber": 1, "Size": 5 * MIB, "ChecksumSHA256": parts[0]["ChecksumSHA256"]}
    ]
    rest = s3.get_object_attributes(
        Bucket=bucket, Key="composite", ObjectAttributes=["ObjectParts"], PartNumberMarker=1
    )["ObjectParts"]
    assert not rest["IsTruncated"] and [part["PartNumber"] for part in rest["Parts"]] == [2]
    with pytest.raises(ClientError) as refused:
        s3.create_multipart_upload(
            Bucket=bucket, Key="x", ChecksumAlgorithm="SHA256", ChecksumType="FULL_OBJECT"
        )
    assert error_code(refused) == "InvalidRequest"


def test_conditional_writes(s3: Any, bucket: str) -> None:
    etag = s3.put_object(Bucket=bucket, Key="k", Body=b"one", IfNoneMatch="*")["ETag"]
    for condition in ({"IfNoneMatch": "*"}, {"IfNoneMatch": etag}, {"IfMatch": '"0123"'}):
        with pytest.raises(ClientError) as refused:
            s3.put_object(Bucket=bucket, Key="k", Body=b"two", **condition)
        assert (error_code(refused), http_status(refused)) == ("PreconditionFailed", 412)
    assert s3.get_object(Bucket=bucket, Key="k")["Body"].read() == b"one"
    s3.put_object(Bucket=bucket, Key="k", Body=b"three", IfMatch=etag)
    with pytest.raises(ClientError) as absent:
        s3.put_object(Bucket=bucket, Key="absent", Body=b"x", IfMatch="*")
    assert error_code(absent) == "NoSuchKey"
    upload_id = s3.create_multipart_upload(Bucket=bucket, Key="k")["UploadId"]
    part = s3.upload_part(Bucket=bucket, Key="k", UploadId=upload_id, PartNumber=1, Body=b"four")
    listed = {"Parts": [{"PartNumber": 1, "ETag": part["ETag"]}]}
    with pytest.raises(ClientError) as refused:
        s3.complete_multipart_upload(
            Bucket=bucket, Key="k", UploadId=upload_id, MultipartUpload=listed, IfNoneMatch="*"
        )
    assert error_code(refused) == "PreconditionFailed"
    current = s3.head_object(Bucket=bucket, Key="k")["ETag"]
    s3.complete_multipart_upload(
        Bucket=bucket, Key="k", UploadId=upload_id, MultipartUpload=listed, IfMatch=current
    )
    assert s3.get_object(Bucket=bucket, Key="k")["Body"].read() == b"four"


def test_aws_chunked_is_not_a_stored_encoding(s3: Any, bucket: str) -> None:
    for sent, stored in (
        ("gzip, aws-chunked", "gzip"),
        ("aws-chunked", None),
        ("deflate, gzip", "deflate, gzip"),
    ):
        s3.put_object(Bucket=bucket, Key="e", Body=b"x", ContentEncoding=sent)
        assert s3.head_object(Bucket=bucket, Key="e").get("ContentEncoding") == stored


def test_listing_edges(s3: Any, bucket: str) -> None:
    for key in ("a b/1", "a b/2", "c+d", "e\nf"):
        s3.put_object(Bucket=bucket, Key=key, Body=b"")
    empty = s3.list_objects_v2(Bucket=bucket, MaxKeys=0)
    assert (empty["KeyCount"], empty["IsTruncated"], "Contents" in empty) == (0, False, False)
    flat = s3.list_objects_v2(Bucket=bucket, Delimiter="")
    assert "Delimiter" not in flat and len(flat["Contents"]) == 4
    # botocore asks for EncodingType=url and decodes: what comes back must be the keys as stored
    for listing in (s3.list_objects, s3.list_objects_v2):
        answer = listing(Bucket=bucket, Prefix="a b/", Delimiter="/")
        assert answer["Prefix"] == "a b/" and [item["Key"] for item in answer["Contents"]] == [
            "a b/1",
            "a b/2",
        ]
        odd = listing(Bucket=bucket, Prefix="e\n")
        assert odd["Prefix"] == "e\n" and [item["Key"] for item in odd["Contents"]] == ["e\nf"]
        assert [p["Prefix"] for p in listing(Bucket=bucket, Delimiter=" ")["CommonPrefixes"]] == ["a "]


def test_range_and_part_number_errors(s3: Any, bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="five", Body=b"01234")
    with pytest.raises(ClientError) as past_end:
        s3.get_object(Bucket=bucket, Key="five", Range="bytes=5-9")
    assert (error_code(past_end), http_status(past_end)) == ("InvalidRange", 416)
    assert past_end.value.response["Error"]["ActualObjectSize"] == "5"
    with pytest.raises(ClientError) as no_part:
        s3.get_object(Bucket=bucket, Key="five", PartNumber=2)
    assert (error_code(no_part), http_status(no_part)) == ("InvalidPartNumber", 416)
    upload_id = s3.create_multipart_upload(Bucket=bucket, Key="copy")["UploadId"]
    source = {"Bucket": bucket, "Key": "five"}
    for copy_range, code in (
        ("bytes=0-9", "InvalidRange"),
        ("bytes=0-", "InvalidArgument"),
        ("0-2", "InvalidArgument"),
    ):
        with pytest.raises(ClientError) as refused:
            s3.upload_part_copy(
                Bucket=bucket,
                Key="copy",
                UploadId=upload_id,
                PartNumber=1,
                CopySource=source,
                CopySourceRange=copy_range,
            )
        assert error_code(refused) == code, copy_range


def test_create_bucket_you_own(nimbus: NimbusServer, s3: Any) -> None:
    """us-east-1 answers 200 again (S3's legacy behaviour there); other regions BucketAlreadyOwnedByYou."""
    name = unique_bucket_name("twice")
    s3.create_bucket(Bucket=name)
    assert s3.create_bucket(Bucket=name)["ResponseMetadata"]["HTTPStatusCode"] == 200
    west = nimbus.client("s3", region_name="eu-west-1")
    regional = unique_bucket_name("twice")
    west.create_bucket(Bucket=regional, CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
    with pytest.raises(ClientError) as again:
        west.create_bucket(Bucket=regional, CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
    assert (error_code(again), http_status(again)) == ("BucketAlreadyOwnedByYou", 409)
    for created in (name, regional):
        s3.delete_bucket(Bucket=created)


def test_sigv2_header_signing(nimbus: NimbusServer, s3: Any) -> None:
    v2 = nimbus.client("s3", config=botocore.config.Config(signature_version="s3"))
    name = unique_bucket_name("v2")
    v2.create_bucket(Bucket=name)
    v2.put_object(Bucket=name, Key="dir/a b+c", Body=b"signed with SigV2", Metadata={"note": "v2"})
    assert v2.get_object(Bucket=name, Key="dir/a b+c")["Metadata"] == {"note": "v2"}
    assert list_keys(v2, name) == ["dir/a b+c"]
    forged = nimbus.client(
        "s3", aws_secret_access_key="x" * 40, config=botocore.config.Config(signature_version="s3")
    )
    with pytest.raises(ClientError) as refused:
        forged.get_object(Bucket=name, Key="dir/a b+c")
    assert (error_code(refused), http_status(refused)) == ("SignatureDoesNotMatch", 403)
    v2.delete_object(Bucket=name, Key="dir/a b+c")
    v2.delete_bucket(Bucket=name)


def test_post_upload_fields_as_file_parts(nimbus: NimbusServer, s3: Any, bucket: str) -> None:
    """requests' ``files=`` sends every field as a part with a filename: the form still works, and a
    broken one gets S3's error, never a 500."""
    post = s3.generate_presigned_post(Bucket=bucket, Key="uploads/${filename}")
    url = f"{nimbus.endpoint_url}/{bucket}"
    fields = [(name, (None, value)) for name, value in post["fields"].items()]
    answer = requests.post(url, files=[*fields, ("file", ("report.csv", b"a,b\n1,2\n"))], timeout=30)
    assert answer.status_code == 204, answer.text
    assert s3.get_object(Bucket=bucket, Key="uploads/report.csv")["Body"].read() == b"a,b\n1,2\n"
    as_files = [(name, ("field.txt", value.encode())) for name, value in post["fields"].items()]
    answer = requests.post(url, files=[*as_files, ("file", ("again.csv", b"x"))], timeout=30)
    assert answer.status_code == 204, answer.text
    broken = raw_request(
        nimbus,
        "POST",
        f"/{bucket}",
        headers={"Content-Type": "multipart/form-data"},  # no boundary
        body=b"--zz\r\nnot",
    )
    assert (broken.status, broken.error_code()) == (400, "MalformedPOSTRequest")
    stale = s3.generate_presigned_post(Bucket=bucket, Key="late", ExpiresIn=-60)["fields"]
    answer = requests.post(url, files=[*stale.items(), ("file", ("f", b"x"))], timeout=30)
    assert answer.status_code == 403 and "Policy expired" in answer.text
