"""Object operations through boto3: data, metadata, ranges, conditions, listing, tags, checksums."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import zlib
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from awscrt import checksums as crt_checksums
from botocore.exceptions import ClientError
from conftest import NimbusServer, error_code, http_status, list_keys, md5_etag, snapshot_files

BODY = bytes(range(256)) * 4  # 1 KiB, every byte value


def test_put_get_head_delete_with_metadata(nimbus: NimbusServer, s3: Any, bucket: str) -> None:
    key = "docs/report.json.gz"
    put = s3.put_object(
        Bucket=bucket,
        Key=key,
        Body=BODY,
        Metadata={"owner": "alice", "run-id": "42"},
        ContentType="application/json",
        ContentEncoding="gzip",
        ContentDisposition='attachment; filename="r.json.gz"',
        CacheControl="max-age=60",
    )
    assert put["ETag"] == md5_etag(BODY)
    assert put["ResponseMetadata"]["HTTPHeaders"].get("x-amz-request-id")

    got = s3.get_object(Bucket=bucket, Key=key)
    assert got["Body"].read() == BODY
    assert got["ETag"] == md5_etag(BODY)
    assert got["ContentLength"] == len(BODY)
    assert got["ContentType"] == "application/json"
    assert got["ContentEncoding"] == "gzip"
    assert got["ContentDisposition"] == 'attachment; filename="r.json.gz"'
    assert got["CacheControl"] == "max-age=60"
    assert got["Metadata"] == {"owner": "alice", "run-id": "42"}
    assert isinstance(got["LastModified"], dt.datetime)

    head = s3.head_object(Bucket=bucket, Key=key)
    assert head["ContentLength"] == len(BODY)
    assert head["ETag"] == md5_etag(BODY)
    assert head["Metadata"] == {"owner": "alice", "run-id": "42"}
    assert head["ContentType"] == "application/json"
    assert head["ContentEncoding"] == "gzip"

    # plain-file layout: the object is the file
    assert (nimbus.s3_root() / bucket / "docs" / "report.json.gz").read_bytes() == BODY

    deleted = s3.delete_object(Bucket=bucket, Key=key)
    assert deleted["ResponseMetadata"]["HTTPStatusCode"] == 204
    assert not (nimbus.s3_root() / bucket / "docs" / "report.json.gz").exists()
    with pytest.raises(ClientError) as exc:
        s3.get_object(Bucket=bucket, Key=key)
    assert error_code(exc) == "NoSuchKey"
    assert http_status(exc) == 404
    with pytest.raises(ClientError) as exc:
        s3.head_object(Bucket=bucket, Key=key)
    assert http_status(exc) == 404
    # deleting a missing key is not an error in S3
    assert s3.delete_object(Bucket=bucket, Key=key)["ResponseMetadata"]["HTTPStatusCode"] == 204


def test_default_content_type_and_overwrite(nimbus: NimbusServer, s3: Any, bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="blob", Body=b"first version")
    assert s3.head_object(Bucket=bucket, Key="blob")["ContentType"] in (
        "binary/octet-stream",
        "application/octet-stream",
    )
    s3.put_object(Bucket=bucket, Key="blob", Body=b"second", Metadata={"v": "2"})
    got = s3.get_object(Bucket=bucket, Key="blob")
    assert got["Body"].read() == b"second"
    assert got["Metadata"] == {"v": "2"}
    assert got["ETag"] == md5_etag(b"second")
    assert (nimbus.s3_root() / bucket / "blob").read_bytes() == b"second"
    assert list_keys(s3, bucket) == ["blob"]


def test_unicode_and_special_character_keys(nimbus: NimbusServer, s3: Any, bucket: str) -> None:
    keys = [
        "dïr/ünïcødé file.txt",
        "sp ace/plus+sign&amp=eq.csv",
        "q?uery#hash",
        "日本/データ.bin",
        "~tilde'",
    ]
    for i, key in enumerate(keys):
        s3.put_object(Bucket=bucket, Key=key, Body=f"body {i}".encode())
    for i, key in enumerate(keys):
        assert s3.get_object(Bucket=bucket, Key=key)["Body"].read() == f"body {i}".encode()
        assert (nimbus.s3_root() / bucket / key).read_bytes() == f"body {i}".encode()
    assert sorted(list_keys(s3, bucket)) == sorted(keys)
    # the listing is in UTF-8 byte order
    assert list_keys(s3, bucket) == sorted(keys, key=lambda k: k.encode())


def test_zero_byte_folder_keys(nimbus: NimbusServer, s3: Any, bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="dir/", Body=b"")
    s3.put_object(Bucket=bucket, Key="dir/file.txt", Body=b"inside")
    head = s3.head_object(Bucket=bucket, Key="dir/")
    assert head["ContentLength"] == 0
    assert head["ETag"] == md5_etag(b"")
    assert s3.get_object(Bucket=bucket, Key="dir/")["Body"].read() == b""

    listed = s3.list_objects_v2(Bucket=bucket)
    assert [(o["Key"], o["Size"]) for o in listed["Contents"]] == [("dir/", 0), ("dir/file.txt", 6)]
    top = s3.list_objects_v2(Bucket=bucket, Delimiter="/")
    assert [p["Prefix"] for p in top.get("CommonPrefixes", [])] == ["dir/"]
    assert "Contents" not in top
    inside = s3.list_objects_v2(Bucket=bucket, Prefix="dir/", Delimiter="/")
    assert [o["Key"] for o in inside["Contents"]] == ["dir/", "dir/file.txt"]

    assert (nimbus.s3_root() / bucket / "dir").is_dir()
    assert (nimbus.s3_root() / bucket / "dir" / "file.txt").read_bytes() == b"inside"

    # deleting the file keeps the folder marker, deleting the marker keeps nothing
    s3.delete_object(Bucket=bucket, Key="dir/file.txt")
    assert list_keys(s3, bucket) == ["dir/"]
    s3.delete_object(Bucket=bucket, Key="dir/")
    assert list_keys(s3, bucket) == []


def test_implicit_directories_are_not_objects(s3: Any, bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="deep/er/file", Body=b"x")
    for missing in ("deep", "deep/", "deep/er", "deep/er/"):
        with pytest.raises(ClientError) as exc:
            s3.get_object(Bucket=bucket, Key=missing)
        assert error_code(exc) == "NoSuchKey", missing
    assert list_keys(s3, bucket) == ["deep/er/file"]
    s3.delete_object(Bucket=bucket, Key="deep/er/file")
    assert list_keys(s3, bucket) == []
    # the emptied directories no longer block an object of that name
    s3.put_object(Bucket=bucket, Key="deep", Body=b"now a file")
    assert s3.get_object(Bucket=bucket, Key="deep")["Body"].read() == b"now a file"


# ---- ranges and conditions ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("header", "start", "end"),
    [("bytes=0-9", 0, 9), ("bytes=-5", 1019, 1023), ("bytes=10-", 10, 1023), ("bytes=1000-5000", 1000, 1023)],
)
def test_ranged_get(s3: Any, bucket: str, header: str, start: int, end: int) -> None:
    s3.put_object(Bucket=bucket, Key="r", Body=BODY)
    got = s3.get_object(Bucket=bucket, Key="r", Range=header)
    assert got["ResponseMetadata"]["HTTPStatusCode"] == 206
    assert got["Body"].read() == BODY[start : end + 1]
    assert got["ContentRange"] == f"bytes {start}-{end}/{len(BODY)}"
    assert got["ContentLength"] == end - start + 1
    assert got["ETag"] == md5_etag(BODY)


def test_invalid_range(s3: Any, bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="r", Body=BODY)
    with pytest.raises(ClientError) as exc:
        s3.get_object(Bucket=bucket, Key="r", Range="bytes=5000-6000")
    assert error_code(exc) == "InvalidRange"
    assert http_status(exc) == 416
    # an unparseable Range header is ignored, as by S3: the whole object comes back
    whole = s3.get_object(Bucket=bucket, Key="r", Range="lines=1-2")
    assert whole["ResponseMetadata"]["HTTPStatusCode"] == 200
    assert whole["Body"].read() == BODY


def test_conditional_get(s3: Any, bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="c", Body=BODY)
    head = s3.head_object(Bucket=bucket, Key="c")
    etag, modified = head["ETag"], head["LastModified"]
    later, earlier = modified + dt.timedelta(hours=1), modified - dt.timedelta(days=1)

    assert s3.get_object(Bucket=bucket, Key="c", IfMatch=etag)["Body"].read() == BODY
    with pytest.raises(ClientError) as exc:
        s3.get_object(Bucket=bucket, Key="c", IfMatch='"00000000000000000000000000000000"')
    assert error_code(exc) == "PreconditionFailed"
    assert http_status(exc) == 412

    with pytest.raises(ClientError) as exc:
        s3.get_object(Bucket=bucket, Key="c", IfNoneMatch=etag)
    assert error_code(exc) == "304"
    assert http_status(exc) == 304
    assert s3.get_object(Bucket=bucket, Key="c", IfNoneMatch='"nope"')["Body"].read() == BODY

    with pytest.raises(ClientError) as exc:
        s3.get_object(Bucket=bucket, Key="c", IfModifiedSince=later)
    assert error_code(exc) == "304"
    assert s3.get_object(Bucket=bucket, Key="c", IfModifiedSince=earlier)["Body"].read() == BODY

    with pytest.raises(ClientError) as exc:
        s3.get_object(Bucket=bucket, Key="c", IfUnmodifiedSince=earlier)
    assert error_code(exc) == "PreconditionFailed"
    assert http_status(exc) == 412
    assert s3.get_object(Bucket=bucket, Key="c", IfUnmodifiedSince=later)["Body"].read() == BODY

    with pytest.raises(ClientError) as exc:
        s3.head_object(Bucket=bucket, Key="c", IfMatch='"00000000000000000000000000000000"')
    assert http_status(exc) == 412


# ---- delete many, copy -------------------------------------------------------------------------


def test_delete_objects(nimbus: NimbusServer, s3: Any, bucket: str) -> None:
    for key in ("one", "two", "dir/three", "keep"):
        s3.put_object(Bucket=bucket, Key=key, Body=key.encode())
    resp = s3.delete_objects(
        Bucket=bucket,
        Delete={"Objects": [{"Key": "one"}, {"Key": "two"}, {"Key": "dir/three"}, {"Key": "never-existed"}]},
    )
    assert sorted(d["Key"] for d in resp["Deleted"]) == ["dir/three", "never-existed", "one", "two"]
    assert resp.get("Errors", []) == []
    assert list_keys(s3, bucket) == ["keep"]
    assert sorted(snapshot_files(nimbus.s3_root() / bucket)) == ["keep"]

    quiet = s3.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": "keep"}], "Quiet": True})
    assert quiet.get("Deleted", []) == []
    assert list_keys(s3, bucket) == []


def test_copy_object_metadata_directives(nimbus: NimbusServer, s3: Any, bucket: str) -> None:
    s3.put_object(
        Bucket=bucket, Key="src.txt", Body=b"copy me", Metadata={"origin": "src"}, ContentType="text/plain"
    )
    copied = s3.copy_object(
        Bucket=bucket, Key="copy/same.txt", CopySource={"Bucket": bucket, "Key": "src.txt"}
    )
    assert copied["CopyObjectResult"]["ETag"] == md5_etag(b"copy me")
    same = s3.get_object(Bucket=bucket, Key="copy/same.txt")
    assert same["Body"].read() == b"copy me"
    assert same["Metadata"] == {"origin": "src"}
    assert same["ContentType"] == "text/plain"

    s3.copy_object(
        Bucket=bucket,
        Key="copy/replaced.txt",
        CopySource=f"{bucket}/src.txt",
        MetadataDirective="REPLACE",
        Metadata={"origin": "new"},
        ContentType="text/csv",
    )
    replaced = s3.get_object(Bucket=bucket, Key="copy/replaced.txt")
    assert replaced["Body"].read() == b"copy me"
    assert replaced["Metadata"] == {"origin": "new"}
    assert replaced["ContentType"] == "text/csv"

    # COPY ignores the metadata given with the request
    s3.copy_object(
        Bucket=bucket,
        Key="copy/ignored.txt",
        CopySource={"Bucket": bucket, "Key": "src.txt"},
        MetadataDirective="COPY",
        Metadata={"origin": "ignored"},
    )
    assert s3.head_object(Bucket=bucket, Key="copy/ignored.txt")["Metadata"] == {"origin": "src"}

    # copying an object onto itself needs REPLACE
    with pytest.raises(ClientError) as exc:
        s3.copy_object(Bucket=bucket, Key="src.txt", CopySource={"Bucket": bucket, "Key": "src.txt"})
    assert error_code(exc) == "InvalidRequest"
    s3.copy_object(
        Bucket=bucket,
        Key="src.txt",
        CopySource={"Bucket": bucket, "Key": "src.txt"},
        MetadataDirective="REPLACE",
        Metadata={"origin": "self"},
    )
    assert s3.head_object(Bucket=bucket, Key="src.txt")["Metadata"] == {"origin": "self"}
    assert s3.get_object(Bucket=bucket, Key="src.txt")["Body"].read() == b"copy me"

    with pytest.raises(ClientError) as exc:
        s3.copy_object(Bucket=bucket, Key="x", CopySource={"Bucket": bucket, "Key": "missing"})
    assert error_code(exc) == "NoSuchKey"
    assert (nimbus.s3_root() / bucket / "copy" / "replaced.txt").read_bytes() == b"copy me"


def test_copy_across_buckets(s3: Any, bucket: str) -> None:
    from conftest import unique_bucket_name

    other = unique_bucket_name("copy")
    s3.create_bucket(Bucket=other)
    try:
        s3.put_object(Bucket=bucket, Key="k", Body=b"moving")
        s3.copy_object(Bucket=other, Key="k2", CopySource={"Bucket": bucket, "Key": "k"})
        assert s3.get_object(Bucket=other, Key="k2")["Body"].read() == b"moving"
    finally:
        s3.delete_object(Bucket=other, Key="k2")
        s3.delete_bucket(Bucket=other)


# ---- listing -----------------------------------------------------------------------------------

LIST_KEYS = ["a/1.txt", "a/2.txt", "a/b/3.txt", "a/b/4.txt", "b/5.txt", "c.txt", "d/", "e.txt"]


@pytest.fixture
def listing_bucket(s3: Any, bucket: str) -> str:
    for key in LIST_KEYS:  # a key ending in "/" is a folder marker: zero bytes
        s3.put_object(Bucket=bucket, Key=key, Body=b"" if key.endswith("/") else key.encode())
    return bucket


def test_list_objects_v2_prefix_delimiter(s3: Any, listing_bucket: str) -> None:
    b = listing_bucket
    full = s3.list_objects_v2(Bucket=b)
    assert [o["Key"] for o in full["Contents"]] == LIST_KEYS
    assert full["KeyCount"] == len(LIST_KEYS)
    assert full["IsTruncated"] is False
    first = full["Contents"][0]
    assert first["Size"] == len(b"a/1.txt")
    assert first["ETag"] == md5_etag(b"a/1.txt")
    assert first["StorageClass"] == "STANDARD"

    top = s3.list_objects_v2(Bucket=b, Delimiter="/")
    assert [o["Key"] for o in top["Contents"]] == ["c.txt", "e.txt"]
    assert [p["Prefix"] for p in top["CommonPrefixes"]] == ["a/", "b/", "d/"]
    assert top["KeyCount"] == 5

    under_a = s3.list_objects_v2(Bucket=b, Prefix="a/", Delimiter="/")
    assert [o["Key"] for o in under_a["Contents"]] == ["a/1.txt", "a/2.txt"]
    assert [p["Prefix"] for p in under_a["CommonPrefixes"]] == ["a/b/"]
    assert under_a["Prefix"] == "a/"

    partial_prefix = s3.list_objects_v2(Bucket=b, Prefix="a/b/")
    assert [o["Key"] for o in partial_prefix["Contents"]] == ["a/b/3.txt", "a/b/4.txt"]
    assert "Contents" not in s3.list_objects_v2(Bucket=b, Prefix="zzz")
    assert s3.list_objects_v2(Bucket=b, Prefix="zzz")["KeyCount"] == 0

    after = s3.list_objects_v2(Bucket=b, StartAfter="b/5.txt")
    assert [o["Key"] for o in after["Contents"]] == ["c.txt", "d/", "e.txt"]


def test_list_objects_v2_pagination(s3: Any, listing_bucket: str) -> None:
    b = listing_bucket
    seen: list[str] = []
    token: str | None = None
    pages = 0
    while True:
        kw: dict[str, Any] = {"Bucket": b, "MaxKeys": 3}
        if token:
            kw["ContinuationToken"] = token
        page = s3.list_objects_v2(**kw)
        pages += 1
        assert page["MaxKeys"] == 3
        assert len(page.get("Contents", [])) <= 3
        seen.extend(o["Key"] for o in page.get("Contents", []))
        if not page["IsTruncated"]:
            break
        token = page["NextContinuationToken"]
        assert pages < 10
    assert seen == LIST_KEYS
    assert pages == 3

    # MaxKeys counts common prefixes too
    grouped = s3.list_objects_v2(Bucket=b, Delimiter="/", MaxKeys=2)
    assert grouped["IsTruncated"] is True
    entries = [p["Prefix"] for p in grouped.get("CommonPrefixes", [])] + [
        o["Key"] for o in grouped.get("Contents", [])
    ]
    assert sorted(entries) == ["a/", "b/"]
    rest = s3.list_objects_v2(
        Bucket=b, Delimiter="/", MaxKeys=10, ContinuationToken=grouped["NextContinuationToken"]
    )
    assert [o["Key"] for o in rest["Contents"]] == ["c.txt", "e.txt"]
    assert [p["Prefix"] for p in rest["CommonPrefixes"]] == ["d/"]


def test_list_objects_v1(s3: Any, listing_bucket: str) -> None:
    b = listing_bucket
    full = s3.list_objects(Bucket=b)
    assert [o["Key"] for o in full["Contents"]] == LIST_KEYS
    assert full["IsTruncated"] is False

    top = s3.list_objects(Bucket=b, Delimiter="/")
    assert [o["Key"] for o in top["Contents"]] == ["c.txt", "e.txt"]
    assert [p["Prefix"] for p in top["CommonPrefixes"]] == ["a/", "b/", "d/"]

    page1 = s3.list_objects(Bucket=b, MaxKeys=5)
    assert page1["IsTruncated"] is True
    assert [o["Key"] for o in page1["Contents"]] == LIST_KEYS[:5]
    page2 = s3.list_objects(Bucket=b, Marker=LIST_KEYS[4])
    assert [o["Key"] for o in page2["Contents"]] == LIST_KEYS[5:]
    assert page2["IsTruncated"] is False

    # with a delimiter a truncated V1 listing names its NextMarker
    grouped = s3.list_objects(Bucket=b, Delimiter="/", MaxKeys=1)
    assert grouped["IsTruncated"] is True
    assert grouped["NextMarker"] == "a/"
    assert [p["Prefix"] for p in grouped["CommonPrefixes"]] == ["a/"]

    keys = [
        o["Key"]
        for page in s3.get_paginator("list_objects").paginate(Bucket=b, PaginationConfig={"PageSize": 2})
        for o in page.get("Contents", [])
    ]
    assert keys == LIST_KEYS


def test_list_object_versions(s3: Any, listing_bucket: str) -> None:
    resp = s3.list_object_versions(Bucket=listing_bucket, Prefix="a/")
    versions = resp["Versions"]
    assert [v["Key"] for v in versions] == ["a/1.txt", "a/2.txt", "a/b/3.txt", "a/b/4.txt"]
    for v in versions:
        assert v["VersionId"] == "null"
        assert v["IsLatest"] is True
        assert v["ETag"] == md5_etag(v["Key"].encode())
        assert v["Size"] == len(v["Key"])
    assert resp.get("DeleteMarkers", []) == []
    status = s3.get_bucket_versioning(Bucket=listing_bucket)
    assert status.get("Status") in (None, "")


def test_list_pagination_2500_keys(nimbus: NimbusServer, s3: Any, bucket: str) -> None:
    expected = [f"many/{i:05d}" for i in range(2500)]
    clients = [nimbus.client("s3") for _ in range(8)]

    def put(i: int) -> None:
        clients[i % 8].put_object(Bucket=bucket, Key=expected[i], Body=str(i).encode())

    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(put, range(len(expected))))

    pages = list(s3.get_paginator("list_objects_v2").paginate(Bucket=bucket))
    assert len(pages) == 3  # 1,000 keys a page by default
    keys = [o["Key"] for page in pages for o in page.get("Contents", [])]
    assert len(keys) == len(set(keys)) == 2500
    assert keys == expected

    v1 = [
        o["Key"]
        for page in s3.get_paginator("list_objects").paginate(
            Bucket=bucket, PaginationConfig={"PageSize": 700}
        )
        for o in page.get("Contents", [])
    ]
    assert v1 == expected
    assert len(list((nimbus.s3_root() / bucket / "many").iterdir())) == 2500


# ---- tagging -----------------------------------------------------------------------------------


def test_object_tagging(s3: Any, bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="t", Body=b"tagged", Tagging="team=ml&stage=dev")
    tags = s3.get_object_tagging(Bucket=bucket, Key="t")["TagSet"]
    assert sorted((t["Key"], t["Value"]) for t in tags) == [("stage", "dev"), ("team", "ml")]
    assert s3.get_object(Bucket=bucket, Key="t")["TagCount"] == 2

    s3.put_object_tagging(Bucket=bucket, Key="t", Tagging={"TagSet": [{"Key": "only", "Value": "one"}]})
    assert s3.get_object_tagging(Bucket=bucket, Key="t")["TagSet"] == [{"Key": "only", "Value": "one"}]

    s3.delete_object_tagging(Bucket=bucket, Key="t")
    assert s3.get_object_tagging(Bucket=bucket, Key="t")["TagSet"] == []
    assert s3.get_object(Bucket=bucket, Key="t")["Body"].read() == b"tagged"

    with pytest.raises(ClientError) as exc:
        s3.get_object_tagging(Bucket=bucket, Key="missing")
    assert error_code(exc) == "NoSuchKey"


# ---- checksums ---------------------------------------------------------------------------------


def _crc32(data: bytes) -> str:
    return base64.b64encode(zlib.crc32(data).to_bytes(4, "big")).decode()


def _crc32c(data: bytes) -> str:
    return base64.b64encode(crt_checksums.crc32c(data).to_bytes(4, "big")).decode()


def _sha256(data: bytes) -> str:
    return base64.b64encode(hashlib.sha256(data).digest()).decode()


@pytest.mark.parametrize(
    ("algorithm", "member", "expected"),
    [
        ("CRC32", "ChecksumCRC32", _crc32),
        ("SHA256", "ChecksumSHA256", _sha256),
        ("CRC32C", "ChecksumCRC32C", _crc32c),
    ],
)
def test_checksums(
    nimbus: NimbusServer, s3: Any, bucket: str, algorithm: str, member: str, expected: Any
) -> None:
    data = b"checksummed payload " * 500
    put = s3.put_object(Bucket=bucket, Key="sum", Body=data, ChecksumAlgorithm=algorithm)
    assert put[member] == expected(data)
    got = s3.get_object(Bucket=bucket, Key="sum", ChecksumMode="ENABLED")
    assert got["Body"].read() == data  # botocore also validates the returned checksum here
    assert got[member] == expected(data)
    head = s3.head_object(Bucket=bucket, Key="sum", ChecksumMode="ENABLED")
    assert head[member] == expected(data)
    attrs = s3.get_object_attributes(
        Bucket=bucket, Key="sum", ObjectAttributes=["Checksum", "ObjectSize", "ETag"]
    )
    assert attrs["ObjectSize"] == len(data)
    assert attrs["Checksum"][member] == expected(data)
    assert (nimbus.s3_root() / bucket / "sum").read_bytes() == data
