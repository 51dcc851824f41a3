"""The S3 service's operations, called directly (no HTTP) on a real Storage in a temp dir."""

from __future__ import annotations

import base64
import hashlib
import io
import zlib
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from nimbus.errors import AwsError
from nimbus.services.emr.written_objects import Journal
from nimbus.services.registry import Caller, RequestContext, WithStatus
from nimbus.services.s3 import s3
from nimbus.services.sagemaker.s3_locations import JobFailure, channel_files
from nimbus.storage import Storage
from nimbus.storage.objects import EncryptedObject

MIB = 1024 * 1024


class TrailingBody(io.BytesIO):
    """An aws-chunked body: its trailers are known once it has been read to the end."""

    def __init__(self, data: bytes, trailers: dict[str, str]) -> None:
        super().__init__(data)
        self.trailers = trailers


@pytest.fixture
def ctx(tmp_path: Path) -> Iterator[RequestContext]:
    storage = Storage.open(tmp_path, f"sqlite:///{tmp_path / 'nimbus.db'}")
    caller = Caller("AKIDEXAMPLE", "123456789012", "AIDEXAMPLE", "arn:aws:iam::123456789012:root")
    yield RequestContext("req-1", "us-east-1", caller, storage, datetime.now(UTC))
    storage.close()


Call = Callable[..., Any]


@pytest.fixture
def call(ctx: RequestContext) -> Call:
    def invoke(operation: str, **request: Any) -> Any:
        return s3.operations[operation](ctx, request)

    return invoke


@pytest.fixture
def bucket(call: Call) -> str:
    call("CreateBucket", Bucket="bkt")
    return "bkt"


def put(call: Call, key: str, data: bytes = b"data", **extra: Any) -> dict[str, Any]:
    return call("PutObject", Bucket="bkt", Key=key, Body=io.BytesIO(data), **extra)


def body_of(output: dict[str, Any] | WithStatus) -> bytes:
    members = output.output if isinstance(output, WithStatus) else output
    return b"".join(members["Body"])


def error(call: Call, operation: str, **request: Any) -> AwsError:
    with pytest.raises(AwsError) as caught:
        call(operation, **request)
    return caught.value


def md5_etag(data: bytes) -> str:
    return f'"{hashlib.md5(data).hexdigest()}"'


def b64(digest: bytes) -> str:
    return base64.b64encode(digest).decode()


def keys(call: Call, **request: Any) -> list[str]:
    return [o["Key"] for o in call("ListObjectsV2", Bucket="bkt", **request).get("Contents", [])]


# ---- buckets -----------------------------------------------------------------------------------


def test_bucket_lifecycle(call: Call, ctx: RequestContext) -> None:
    assert call("CreateBucket", Bucket="my-bucket") == {"Location": "/my-bucket"}
    assert call("HeadBucket", Bucket="my-bucket") == {"BucketRegion": "us-east-1"}
    assert call("GetBucketLocation", Bucket="my-bucket") == {"LocationConstraint": None}
    listed = call("ListBuckets")
    assert [b["Name"] for b in listed["Buckets"]] == ["my-bucket"]
    assert len(listed["Owner"]["ID"]) == 64
    # us-east-1 answers a second CreateBucket of one's own bucket with 200, as S3 does there
    assert call("CreateBucket", Bucket="my-bucket") == {"Location": "/my-bucket"}
    call("DeleteBucket", Bucket="my-bucket")
    assert error(call, "HeadBucket", Bucket="my-bucket").status == 404
    assert error(call, "DeleteBucket", Bucket="my-bucket").code == "NoSuchBucket"
    assert not (ctx.storage.objects.root / "my-bucket").exists()


@pytest.mark.parametrize(
    "name",
    [
        "ab",
        "a" * 64,
        "UpperCase",
        "under_score",
        "-lead",
        "trail-",
        "double..dot",
        "192.168.5.4",
        "xn--prefixed",
        "sthree-x",
        "suffix-s3alias",
        "name--ol-s3",
    ],
)
def test_invalid_bucket_names(call: Call, ctx: RequestContext, name: str) -> None:
    assert error(call, "CreateBucket", Bucket=name).code == "InvalidBucketName"
    assert call("ListBuckets")["Buckets"] == []


def test_location_constraints(call: Call) -> None:
    config = {"LocationConstraint": "us-east-1"}
    err = error(call, "CreateBucket", Bucket="b-east", CreateBucketConfiguration=config)
    assert err.code == "InvalidLocationConstraint"
    call("CreateBucket", Bucket="b-eu", CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
    assert call("GetBucketLocation", Bucket="b-eu") == {"LocationConstraint": "eu-west-1"}


def test_list_buckets_pagination(call: Call) -> None:
    for name in ("aaa", "bbb", "ccc"):
        call("CreateBucket", Bucket=name)
    first = call("ListBuckets", MaxBuckets=2)
    assert [b["Name"] for b in first["Buckets"]] == ["aaa", "bbb"]
    rest = call("ListBuckets", MaxBuckets=2, ContinuationToken=first["ContinuationToken"])
    assert [b["Name"] for b in rest["Buckets"]] == ["ccc"] and "ContinuationToken" not in rest
    assert [b["Name"] for b in call("ListBuckets", Prefix="b")["Buckets"]] == ["bbb"]


def test_bucket_not_empty_then_deleted_with_its_uploads(call: Call, bucket: str) -> None:
    put(call, "x")
    assert error(call, "DeleteBucket", Bucket=bucket).code == "BucketNotEmpty"
    call("DeleteObject", Bucket=bucket, Key="x")
    call("CreateMultipartUpload", Bucket=bucket, Key="pending")
    call("DeleteBucket", Bucket=bucket)


# ---- put / get / head / delete -----------------------------------------------------------------


def test_put_get_head_with_metadata(call: Call, bucket: str, ctx: RequestContext) -> None:
    expires = datetime(2030, 1, 1, tzinfo=UTC)
    out = put(
        call,
        "dir/file.txt",
        b"hello",
        Metadata={"color": "blue"},
        ContentType="text/plain",
        CacheControl="no-cache",
        ContentDisposition="inline",
        ContentEncoding="identity",
        ContentLanguage="en",
        Expires=expires,
    )
    assert out == {"ETag": md5_etag(b"hello")}
    got = call("GetObject", Bucket=bucket, Key="dir/file.txt")
    assert body_of(got) == b"hello"
    assert got["ContentLength"] == 5 and got["ETag"] == md5_etag(b"hello")
    assert got["Metadata"] == {"color": "blue"}
    assert (got["ContentType"], got["CacheControl"], got["Expires"]) == ("text/plain", "no-cache", expires)
    head = call("HeadObject", Bucket=bucket, Key="dir/file.txt")
    assert "Body" not in head and head["ContentLength"] == 5
    assert head["LastModified"].tzinfo is not None
    assert (ctx.storage.objects.root / bucket / "dir" / "file.txt").read_bytes() == b"hello"


def test_defaults_and_overwrite(call: Call, bucket: str) -> None:
    put(call, "k", b"first")
    put(call, "k", b"second")
    got = call("GetObject", Bucket=bucket, Key="k")
    assert got["ContentType"] == "binary/octet-stream"
    assert body_of(got) == b"second"


def test_missing_objects_and_buckets(call: Call, bucket: str) -> None:
    assert error(call, "GetObject", Bucket=bucket, Key="nope").code == "NoSuchKey"
    assert error(call, "HeadObject", Bucket=bucket, Key="nope").status == 404
    assert error(call, "GetObject", Bucket="no-bucket", Key="k").code == "NoSuchBucket"
    assert error(call, "PutObject", Bucket="no-bucket", Key="k", Body=io.BytesIO(b"")).code == "NoSuchBucket"
    assert error(call, "DeleteObject", Bucket="no-bucket", Key="k").code == "NoSuchBucket"


def test_response_overrides(call: Call, bucket: str) -> None:
    put(call, "k", b"x", ContentType="text/plain")
    got = call(
        "GetObject",
        Bucket=bucket,
        Key="k",
        ResponseContentType="application/json",
        ResponseContentDisposition="attachment",
    )
    assert (got["ContentType"], got["ContentDisposition"]) == ("application/json", "attachment")


def test_delete_is_idempotent(call: Call, bucket: str, ctx: RequestContext) -> None:
    put(call, "a/b/c", b"x")
    assert call("DeleteObject", Bucket=bucket, Key="a/b/c") == {}
    assert call("DeleteObject", Bucket=bucket, Key="a/b/c") == {}
    assert call("DeleteObject", Bucket=bucket, Key="a//never-stored") == {}
    assert list((ctx.storage.objects.root / bucket).iterdir()) == []


def test_metadata_too_large(call: Call, bucket: str) -> None:
    err = error(call, "PutObject", Bucket=bucket, Key="k", Body=io.BytesIO(b"x"), Metadata={"m": "v" * 2048})
    assert err.code == "MetadataTooLarge"


def test_folder_objects(call: Call, bucket: str) -> None:
    put(call, "dir/", b"")
    put(call, "dir/file", b"inside")
    assert call("HeadObject", Bucket=bucket, Key="dir/")["ContentLength"] == 0
    assert body_of(call("GetObject", Bucket=bucket, Key="dir/")) == b""
    call("DeleteObject", Bucket=bucket, Key="dir/file")
    assert keys(call) == ["dir/"]
    assert error(call, "GetObject", Bucket=bucket, Key="dir").code == "NoSuchKey"


# ---- keys the file system cannot hold at their path -------------------------------------------


@pytest.mark.parametrize(
    "key", ["s" * 256 + "/x", "ok/" + "é" * 128, "a//b", "/lead", "a//", "a/../b", "./a", "a/", ".."]
)
def test_keys_kept_aside(call: Call, bucket: str, ctx: RequestContext, key: str) -> None:
    put(call, key, b"x")
    assert keys(call) == [key]
    assert body_of(call("GetObject", Bucket=bucket, Key=key)) == b"x"
    assert list((ctx.storage.objects.root / bucket).iterdir()) == []  # nothing at (or above) a path
    assert not (ctx.storage.objects.root / "b").exists()
    call("DeleteObject", Bucket=bucket, Key=key)
    assert keys(call) == [] and list((ctx.storage.objects.root / ".blobs" / bucket).iterdir()) == []


def test_key_too_long(call: Call, bucket: str) -> None:
    err = error(call, "PutObject", Bucket=bucket, Key="k/" * 600, Body=io.BytesIO(b"x"))
    assert (err.code, err.status) == ("KeyTooLongError", 400)
    long_key = "/".join(["d" * 255] * 3 + ["d" * 254, "e"])
    put(call, long_key, b"fits")
    assert keys(call) == [long_key]


def test_file_beside_folder(call: Call, bucket: str, ctx: RequestContext) -> None:
    put(call, "a", b"file a")
    put(call, "x/y", b"file x/y")
    put(call, "a/b", b"under a")
    put(call, "x", b"beside x/")
    call("CopyObject", Bucket=bucket, Key="a/c", CopySource=f"{bucket}/x/y")
    assert keys(call) == ["a", "a/b", "a/c", "x", "x/y"]
    for key, data in (("a", b"file a"), ("a/b", b"under a"), ("a/c", b"file x/y"), ("x", b"beside x/")):
        assert body_of(call("GetObject", Bucket=bucket, Key=key)) == data
    root = ctx.storage.objects.root
    assert (root / bucket / "a").read_bytes() == b"file a"  # the first comer keeps the plain file
    call("DeleteObject", Bucket=bucket, Key="x/y")
    put(call, "x", b"x again")  # its path is free now: back to the plain file, the blob goes
    assert (root / bucket / "x").read_bytes() == b"x again"
    assert len(list((root / ".blobs" / bucket).iterdir())) == 2  # a/b, a/c
    assert list((root / ".tmp").iterdir()) == []


# ---- integrity ---------------------------------------------------------------------------------


def test_content_md5(call: Call, bucket: str) -> None:
    good = b64(hashlib.md5(b"payload").digest())
    assert put(call, "k", b"payload", ContentMD5=good)["ETag"] == md5_etag(b"payload")
    bad = b64(hashlib.md5(b"other").digest())
    assert (
        error(call, "PutObject", Bucket=bucket, Key="k", Body=io.BytesIO(b"x"), ContentMD5=bad).code
        == "BadDigest"
    )
    assert (
        error(call, "PutObject", Bucket=bucket, Key="k", Body=io.BytesIO(b"x"), ContentMD5="!!").code
        == "InvalidDigest"
    )
    assert body_of(call("GetObject", Bucket=bucket, Key="k")) == b"payload"


def test_checksum_members_and_trailers(call: Call, bucket: str, ctx: RequestContext) -> None:
    data = b"checksummed " * 1000
    crc32 = b64(zlib.crc32(data).to_bytes(4, "big"))
    sha256 = b64(hashlib.sha256(data).digest())
    assert put(call, "m", data, ChecksumSHA256=sha256)["ChecksumSHA256"] == sha256
    body = TrailingBody(data, {"x-amz-checksum-crc32": crc32})
    out = call("PutObject", Bucket=bucket, Key="t", Body=body, ChecksumAlgorithm="CRC32")
    assert out["ChecksumCRC32"] == crc32
    # a trailer for an algorithm nobody announced is still checked
    assert call("PutObject", Bucket=bucket, Key="u", Body=TrailingBody(data, {"x-amz-checksum-crc32": crc32}))
    head = call("HeadObject", Bucket=bucket, Key="t", ChecksumMode="ENABLED")
    assert head["ChecksumCRC32"] == crc32
    assert "ChecksumCRC32" not in call("HeadObject", Bucket=bucket, Key="t")
    wrong = TrailingBody(b"tampered", {"x-amz-checksum-crc32": crc32})
    err = error(call, "PutObject", Bucket=bucket, Key="bad", Body=wrong, ChecksumAlgorithm="CRC32")
    assert (err.code, err.message) == (
        "BadDigest",
        "The CRC32 you specified did not match the calculated checksum.",
    )
    assert "bad" not in keys(call)
    assert list((ctx.storage.objects.root / ".tmp").iterdir()) == []
    assert not (ctx.storage.objects.root / bucket / "bad").exists()


# ---- ranges and conditions ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("header", "start", "end"),
    [("bytes=0-4", 0, 4), ("bytes=5-", 5, 9), ("bytes=-3", 7, 9), ("bytes=8-100", 8, 9)],
)
def test_ranges(call: Call, bucket: str, header: str, start: int, end: int) -> None:
    put(call, "r", b"0123456789")
    got = call("GetObject", Bucket=bucket, Key="r", Range=header)
    assert isinstance(got, WithStatus) and got.status == 206
    assert body_of(got) == b"0123456789"[start : end + 1]
    assert got.output["ContentRange"] == f"bytes {start}-{end}/10"
    assert got.output["ContentLength"] == end - start + 1


def test_invalid_range(call: Call, bucket: str) -> None:
    put(call, "r", b"0123456789")
    err = error(call, "GetObject", Bucket=bucket, Key="r", Range="bytes=10-")
    assert (err.code, err.status, err.fields["ActualObjectSize"]) == ("InvalidRange", 416, "10")
    assert body_of(call("GetObject", Bucket=bucket, Key="r", Range="bytes=abc")) == b"0123456789"


def test_conditional_get(call: Call, bucket: str) -> None:
    etag = put(call, "c", b"cond")["ETag"]
    last_modified = call("HeadObject", Bucket=bucket, Key="c")["LastModified"]
    before, after = last_modified - timedelta(days=1), last_modified + timedelta(days=1)
    assert body_of(call("GetObject", Bucket=bucket, Key="c", IfMatch=etag)) == b"cond"
    assert error(call, "GetObject", Bucket=bucket, Key="c", IfMatch='"other"').status == 412
    assert error(call, "GetObject", Bucket=bucket, Key="c", IfNoneMatch=etag).status == 304
    assert error(call, "HeadObject", Bucket=bucket, Key="c", IfModifiedSince=after).status == 304
    assert error(call, "GetObject", Bucket=bucket, Key="c", IfUnmodifiedSince=before).status == 412
    # If-Match wins over If-Unmodified-Since; If-None-Match over If-Modified-Since
    assert call("GetObject", Bucket=bucket, Key="c", IfMatch=etag, IfUnmodifiedSince=before)
    assert call("GetObject", Bucket=bucket, Key="c", IfNoneMatch='"x"', IfModifiedSince=after)
    err = error(call, "GetObject", Bucket=bucket, Key="c", IfMatch='"x"', IfNoneMatch=etag)
    assert err.status == 412 and err.fields["Condition"] == "If-Match"


def test_conditional_put(call: Call, bucket: str) -> None:
    etag = put(call, "c", b"one", IfNoneMatch="*")["ETag"]
    assert (
        error(call, "PutObject", Bucket=bucket, Key="c", Body=io.BytesIO(b"x"), IfNoneMatch="*").status == 412
    )
    assert (
        error(call, "PutObject", Bucket=bucket, Key="c", Body=io.BytesIO(b"x"), IfMatch='"no"').status == 412
    )
    put(call, "c", b"two", IfMatch=etag)
    assert body_of(call("GetObject", Bucket=bucket, Key="c")) == b"two"


# ---- delete many, copy, tagging ----------------------------------------------------------------


def test_delete_objects(call: Call, bucket: str) -> None:
    for key in ("a", "b", "c"):
        put(call, key)
    objects = [{"Key": "a"}, {"Key": "b", "VersionId": "nope"}, {"Key": "missing"}]
    out = call("DeleteObjects", Bucket=bucket, Delete={"Objects": objects})
    assert out["Deleted"] == [{"Key": "a"}, {"Key": "missing"}]
    assert [e["Key"] for e in out["Errors"]] == ["b"]
    assert call("DeleteObjects", Bucket=bucket, Delete={"Objects": [{"Key": "c"}], "Quiet": True}) == {}
    assert keys(call) == ["b"]
    too_many = {"Objects": [{"Key": str(i)} for i in range(1001)]}
    assert error(call, "DeleteObjects", Bucket=bucket, Delete=too_many).code == "MalformedXML"


def test_copy_object_directives(call: Call, bucket: str) -> None:
    put(call, "src key", b"copy me", Metadata={"a": "1"}, ContentType="text/plain", Tagging="t=1")
    out = call("CopyObject", Bucket=bucket, Key="dst", CopySource=f"/{bucket}/src%20key?versionId=null")
    assert out["CopyObjectResult"]["ETag"] == md5_etag(b"copy me")
    got = call("GetObject", Bucket=bucket, Key="dst")
    assert (body_of(got), got["Metadata"], got["ContentType"], got["TagCount"]) == (
        b"copy me",
        {"a": "1"},
        "text/plain",
        1,
    )
    call(
        "CopyObject",
        Bucket=bucket,
        Key="dst",
        CopySource=f"{bucket}/src%20key",
        MetadataDirective="REPLACE",
        Metadata={"b": "2"},
    )
    got = call("HeadObject", Bucket=bucket, Key="dst")
    assert (got["Metadata"], got["ContentType"]) == ({"b": "2"}, "binary/octet-stream")
    assert (
        error(call, "CopyObject", Bucket=bucket, Key="dst", CopySource=f"{bucket}/dst").code
        == "InvalidRequest"
    )
    call("CopyObject", Bucket=bucket, Key="dst", CopySource=f"{bucket}/dst", MetadataDirective="REPLACE")
    err = error(
        call, "CopyObject", Bucket=bucket, Key="x", CopySource=f"{bucket}/dst", CopySourceIfMatch='"no"'
    )
    assert (err.status, err.fields["Condition"]) == (412, "x-amz-copy-source-If-Match")
    assert error(call, "CopyObject", Bucket=bucket, Key="x", CopySource=f"{bucket}/nope").code == "NoSuchKey"


def test_tagging(call: Call, bucket: str) -> None:
    put(call, "t", b"x", Tagging="team=ml&stage=dev")
    tags = call("GetObjectTagging", Bucket=bucket, Key="t")["TagSet"]
    assert sorted((t["Key"], t["Value"]) for t in tags) == [("stage", "dev"), ("team", "ml")]
    call("PutObjectTagging", Bucket=bucket, Key="t", Tagging={"TagSet": [{"Key": "only", "Value": "one"}]})
    assert call("GetObjectTagging", Bucket=bucket, Key="t")["TagSet"] == [{"Key": "only", "Value": "one"}]
    call("DeleteObjectTagging", Bucket=bucket, Key="t")
    assert call("GetObjectTagging", Bucket=bucket, Key="t")["TagSet"] == []
    eleven = {"TagSet": [{"Key": f"k{i}", "Value": "v"} for i in range(11)]}
    assert error(call, "PutObjectTagging", Bucket=bucket, Key="t", Tagging=eleven).code == "InvalidTag"
    assert (
        error(call, "PutObject", Bucket=bucket, Key="t", Body=io.BytesIO(b""), Tagging="k=" + "v" * 257).code
        == "InvalidTag"
    )
    assert error(call, "GetObjectTagging", Bucket=bucket, Key="missing").code == "NoSuchKey"


# ---- listings ----------------------------------------------------------------------------------

LISTED = ["a/1.txt", "a/2.txt", "a/b/3.txt", "a/b/4.txt", "c.txt", "d/5.txt", "space key"]


@pytest.fixture
def listing(call: Call, bucket: str) -> str:
    for key in LISTED:
        put(call, key, key.encode())
    return bucket


def test_list_v2_prefix_and_delimiter(call: Call, listing: str) -> None:
    top = call("ListObjectsV2", Bucket=listing, Delimiter="/")
    assert [o["Key"] for o in top["Contents"]] == ["c.txt", "space key"]
    assert [p["Prefix"] for p in top["CommonPrefixes"]] == ["a/", "d/"]
    assert top["KeyCount"] == 4 and top["IsTruncated"] is False
    inside = call("ListObjectsV2", Bucket=listing, Prefix="a/", Delimiter="/")
    assert [o["Key"] for o in inside["Contents"]] == ["a/1.txt", "a/2.txt"]
    assert [p["Prefix"] for p in inside["CommonPrefixes"]] == ["a/b/"]
    assert keys(call, StartAfter="a/b/4.txt") == ["c.txt", "d/5.txt", "space key"]
    encoded = call("ListObjectsV2", Bucket=listing, Prefix="space", EncodingType="url")
    assert [o["Key"] for o in encoded["Contents"]] == ["space%20key"]
    assert "Owner" not in top["Contents"][0]
    assert "Owner" in call("ListObjectsV2", Bucket=listing, FetchOwner=True)["Contents"][0]


def test_list_v2_pages_over_prefixes(call: Call, listing: str) -> None:
    seen: list[str] = []
    token: dict[str, str] = {}
    while True:
        page = call("ListObjectsV2", Bucket=listing, Delimiter="/", MaxKeys=1, **token)
        seen += [o["Key"] for o in page.get("Contents", [])] + [
            p["Prefix"] for p in page.get("CommonPrefixes", [])
        ]
        if not page["IsTruncated"]:
            break
        token = {"ContinuationToken": page["NextContinuationToken"]}
    assert seen == ["a/", "c.txt", "d/", "space key"]


def test_list_v1_markers(call: Call, listing: str) -> None:
    first = call("ListObjects", Bucket=listing, MaxKeys=2)
    assert [o["Key"] for o in first["Contents"]] == ["a/1.txt", "a/2.txt"]
    assert first["IsTruncated"] and "NextMarker" not in first
    assert first["Contents"][0]["Owner"]["DisplayName"] == "nimbus"
    rest = call("ListObjects", Bucket=listing, Marker="a/2.txt")
    assert [o["Key"] for o in rest["Contents"]] == LISTED[2:]
    grouped = call("ListObjects", Bucket=listing, Delimiter="/", MaxKeys=1)
    assert grouped["NextMarker"] == "a/"
    after = call("ListObjects", Bucket=listing, Delimiter="/", Marker="a/")
    assert [o["Key"] for o in after["Contents"]] == ["c.txt", "space key"]


def test_list_object_versions(call: Call, listing: str) -> None:
    out = call("ListObjectVersions", Bucket=listing, Prefix="a/", MaxKeys=3)
    assert [v["Key"] for v in out["Versions"]] == LISTED[:3]
    assert all(v["VersionId"] == "null" and v["IsLatest"] for v in out["Versions"])
    assert (out["NextKeyMarker"], out["NextVersionIdMarker"]) == ("a/b/3.txt", "null")
    rest = call(
        "ListObjectVersions", Bucket=listing, Prefix="a/", KeyMarker="a/b/3.txt", VersionIdMarker="null"
    )
    assert [v["Key"] for v in rest["Versions"]] == ["a/b/4.txt"]


def test_list_many_pages(call: Call, bucket: str) -> None:
    expected = [f"many/{i:04d}" for i in range(1100)]
    for key in expected:
        put(call, key, b"")
    seen: list[str] = []
    token: dict[str, str] = {}
    pages = 0
    while True:
        page = call("ListObjectsV2", Bucket=bucket, MaxKeys=500, **token)
        pages += 1
        seen += [o["Key"] for o in page["Contents"]]
        if not page["IsTruncated"]:
            break
        token = {"ContinuationToken": page["NextContinuationToken"]}
    assert (pages, seen) == (3, expected)
    assert len(call("ListObjectsV2", Bucket=bucket)["Contents"]) == 1000


# ---- multipart ---------------------------------------------------------------------------------


def upload_parts(call: Call, upload_id: str, parts: list[bytes], **extra: Any) -> list[dict[str, Any]]:
    done = []
    for number, data in enumerate(parts, 1):
        out = call(
            "UploadPart",
            Bucket="bkt",
            Key="big",
            UploadId=upload_id,
            PartNumber=number,
            Body=io.BytesIO(data),
            **extra,
        )
        done.append(
            {"PartNumber": number, "ETag": out["ETag"], **{k: v for k, v in out.items() if k != "ETag"}}
        )
    return done


def test_multipart_lifecycle(call: Call, bucket: str, ctx: RequestContext) -> None:
    created = call(
        "CreateMultipartUpload", Bucket=bucket, Key="big", ContentType="text/csv", Metadata={"m": "1"}
    )
    upload_id = created["UploadId"]
    parts = [b"a" * 5 * MIB, b"b" * 5 * MIB, b"tail"]
    done = upload_parts(call, upload_id, parts)
    listed = call("ListParts", Bucket=bucket, Key="big", UploadId=upload_id, MaxParts=2)
    assert [p["PartNumber"] for p in listed["Parts"]] == [1, 2] and listed["IsTruncated"]
    uploads = call("ListMultipartUploads", Bucket=bucket)["Uploads"]
    assert [u["UploadId"] for u in uploads] == [upload_id]
    out = call(
        "CompleteMultipartUpload",
        Bucket=bucket,
        Key="big",
        UploadId=upload_id,
        MultipartUpload={"Parts": done},
    )
    digests = b"".join(hashlib.md5(p).digest() for p in parts)
    assert out["ETag"] == f'"{hashlib.md5(digests).hexdigest()}-3"'
    got = call("GetObject", Bucket=bucket, Key="big")
    assert body_of(got) == b"".join(parts)
    assert (got["ContentType"], got["Metadata"]) == ("text/csv", {"m": "1"})
    second = call("GetObject", Bucket=bucket, Key="big", PartNumber=2)
    assert body_of(second) == parts[1] and second.output["PartsCount"] == 3
    assert call("ListMultipartUploads", Bucket=bucket).get("Uploads") == []
    assert list((ctx.storage.objects.root / ".uploads").iterdir()) == []
    assert error(call, "ListParts", Bucket=bucket, Key="big", UploadId=upload_id).code == "NoSuchUpload"


def test_multipart_errors(call: Call, bucket: str) -> None:
    upload_id = call("CreateMultipartUpload", Bucket=bucket, Key="big")["UploadId"]
    done = upload_parts(call, upload_id, [b"small", b"parts"])

    def complete(parts: list[dict[str, Any]]) -> AwsError:
        return error(
            call,
            "CompleteMultipartUpload",
            Bucket=bucket,
            Key="big",
            UploadId=upload_id,
            MultipartUpload={"Parts": parts},
        )

    assert complete(done).code == "EntityTooSmall"
    assert complete(done[::-1]).code == "InvalidPartOrder"
    assert complete([{"PartNumber": 1, "ETag": '"0000"'}]).code == "InvalidPart"
    assert complete([{"PartNumber": 7, "ETag": done[0]["ETag"]}]).code == "InvalidPart"
    assert (
        error(
            call,
            "UploadPart",
            Bucket=bucket,
            Key="big",
            UploadId=upload_id,
            PartNumber=0,
            Body=io.BytesIO(b""),
        ).code
        == "InvalidArgument"
    )
    call(
        "CompleteMultipartUpload",
        Bucket=bucket,
        Key="big",
        UploadId=upload_id,
        MultipartUpload={"Parts": done[:1]},
    )
    assert body_of(call("GetObject", Bucket=bucket, Key="big")) == b"small"


def test_abort_and_missing_upload(call: Call, bucket: str, ctx: RequestContext) -> None:
    upload_id = call("CreateMultipartUpload", Bucket=bucket, Key="big")["UploadId"]
    upload_parts(call, upload_id, [b"x"])
    call("AbortMultipartUpload", Bucket=bucket, Key="big", UploadId=upload_id)
    assert list((ctx.storage.objects.root / ".uploads").iterdir()) == []
    err = error(call, "AbortMultipartUpload", Bucket=bucket, Key="big", UploadId=upload_id)
    assert (err.code, err.status) == ("NoSuchUpload", 404)
    assert (
        error(
            call,
            "UploadPart",
            Bucket=bucket,
            Key="big",
            UploadId="../../x",
            PartNumber=1,
            Body=io.BytesIO(b""),
        ).code
        == "NoSuchUpload"
    )


def test_upload_part_copy_and_checksums(call: Call, bucket: str) -> None:
    source = bytes(range(256)) * 40_000  # ~10 MiB
    put(call, "src", source)
    upload_id = call("CreateMultipartUpload", Bucket=bucket, Key="big", ChecksumAlgorithm="SHA256")[
        "UploadId"
    ]
    first = call(
        "UploadPartCopy",
        Bucket=bucket,
        Key="big",
        UploadId=upload_id,
        PartNumber=1,
        CopySource=f"{bucket}/src",
        CopySourceRange=f"bytes=0-{5 * MIB - 1}",
    )
    last = call(
        "UploadPart", Bucket=bucket, Key="big", UploadId=upload_id, PartNumber=2, Body=io.BytesIO(b"end")
    )
    assert last["ChecksumSHA256"] == b64(hashlib.sha256(b"end").digest())
    parts = [
        {"PartNumber": 1, "ETag": first["CopyPartResult"]["ETag"]},
        {"PartNumber": 2, "ETag": last["ETag"]},
    ]
    out = call(
        "CompleteMultipartUpload",
        Bucket=bucket,
        Key="big",
        UploadId=upload_id,
        MultipartUpload={"Parts": parts},
    )
    assert out["ChecksumSHA256"].endswith("-2") and out["ChecksumType"] == "COMPOSITE"
    assert body_of(call("GetObject", Bucket=bucket, Key="big")) == source[: 5 * MIB] + b"end"


def test_list_multipart_uploads_markers(call: Call, bucket: str) -> None:
    ids = [
        call("CreateMultipartUpload", Bucket=bucket, Key=key)["UploadId"] for key in ("a", "a", "b/x", "c")
    ]
    page = call("ListMultipartUploads", Bucket=bucket, MaxUploads=1)
    assert (page["NextKeyMarker"], page["NextUploadIdMarker"]) == ("a", ids[0])
    rest = call("ListMultipartUploads", Bucket=bucket, KeyMarker="a", UploadIdMarker=ids[0])
    assert [u["UploadId"] for u in rest["Uploads"]] == ids[1:]
    grouped = call("ListMultipartUploads", Bucket=bucket, Delimiter="/", KeyMarker="a")
    assert [u["Key"] for u in grouped["Uploads"]] == ["c"]
    assert [p["Prefix"] for p in grouped["CommonPrefixes"]] == ["b/"]


# ---- services that read objects in place -------------------------------------------------------


def test_in_place_readers_find_keys_kept_aside(
    call: Call, bucket: str, ctx: RequestContext, tmp_path: Path
) -> None:
    put(call, "train/a", b"plain")
    put(call, "train/a/b", b"aside")  # "train/a" is a file, so this one is kept aside
    files = channel_files(ctx.storage, "s3://bkt/train/")
    assert sorted((path.read_bytes(), relative) for path, relative in files.items()) == [
        (b"aside", "a/b"),
        (b"plain", "a"),
    ]
    assert ctx.storage.objects.open_object(bucket, "train/a/b").read() == b"aside"
    # a Spark step that rewrites the folder sees only plain files, and leaves the kept-aside ones be
    journal = tmp_path / "journal"
    journal.write_text(f"{bucket}/train\n")
    (ctx.storage.objects.root / bucket / "train" / "a").write_bytes(b"rewritten by spark")
    Journal(journal).record_new_entries(ctx.storage)
    assert body_of(call("GetObject", Bucket=bucket, Key="train/a")) == b"rewritten by spark"
    assert body_of(call("GetObject", Bucket=bucket, Key="train/a/b")) == b"aside"
    # keys that are no path inside a channel folder, and encrypted objects, fail the job as AWS does
    put(call, "dots/../up", b"x")
    with pytest.raises(JobFailure, match="no path"):
        channel_files(ctx.storage, "s3://bkt/dots/")
    key = b64(b"k" * 32)
    sse = {
        "SSECustomerAlgorithm": "AES256",
        "SSECustomerKey": key,
        "SSECustomerKeyMD5": b64(hashlib.md5(b"k" * 32).digest()),
    }
    put(call, "secret/s", b"s", **sse)
    with pytest.raises(JobFailure, match="SSE-C"):
        channel_files(ctx.storage, "s3://bkt/secret/")
    with pytest.raises(EncryptedObject):
        ctx.storage.objects.open_object(bucket, "secret/s")
