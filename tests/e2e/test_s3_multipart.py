"""Multipart uploads: the low-level calls, their errors, and one large upload_file."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Any

import pytest
from boto3.s3.transfer import TransferConfig
from botocore.exceptions import ClientError
from conftest import NimbusServer, error_code, http_status, list_keys, md5_etag, snapshot_files

MIB = 1024 * 1024


def multipart_etag(parts: list[bytes]) -> str:
    digests = b"".join(hashlib.md5(p).digest() for p in parts)
    return f'"{hashlib.md5(digests).hexdigest()}-{len(parts)}"'


def test_multipart_upload_lifecycle(nimbus: NimbusServer, s3: Any, bucket: str) -> None:
    part1 = os.urandom(5 * MIB)
    part2 = b"tail of the object" * 100
    created = s3.create_multipart_upload(
        Bucket=bucket, Key="big/object.bin", ContentType="application/x-test", Metadata={"m": "1"}
    )
    upload_id = created["UploadId"]
    assert created["Bucket"] == bucket and created["Key"] == "big/object.bin" and upload_id

    uploads = s3.list_multipart_uploads(Bucket=bucket)["Uploads"]
    assert [(u["Key"], u["UploadId"]) for u in uploads] == [("big/object.bin", upload_id)]

    r1 = s3.upload_part(Bucket=bucket, Key="big/object.bin", UploadId=upload_id, PartNumber=1, Body=part1)
    r2 = s3.upload_part(Bucket=bucket, Key="big/object.bin", UploadId=upload_id, PartNumber=2, Body=part2)
    assert r1["ETag"] == md5_etag(part1)
    assert r2["ETag"] == md5_etag(part2)

    parts = s3.list_parts(Bucket=bucket, Key="big/object.bin", UploadId=upload_id)["Parts"]
    assert [(p["PartNumber"], p["ETag"], p["Size"]) for p in parts] == [
        (1, md5_etag(part1), len(part1)),
        (2, md5_etag(part2), len(part2)),
    ]
    # an upload in progress is neither an object nor a file at the key
    assert list_keys(s3, bucket) == []
    assert not (nimbus.s3_root() / bucket / "big" / "object.bin").exists()

    done = s3.complete_multipart_upload(
        Bucket=bucket,
        Key="big/object.bin",
        UploadId=upload_id,
        MultipartUpload={
            "Parts": [{"PartNumber": 1, "ETag": r1["ETag"]}, {"PartNumber": 2, "ETag": r2["ETag"]}]
        },
    )
    assert done["ETag"] == multipart_etag([part1, part2])
    assert done["Key"] == "big/object.bin"

    got = s3.get_object(Bucket=bucket, Key="big/object.bin")
    assert got["Body"].read() == part1 + part2
    assert got["ETag"] == multipart_etag([part1, part2])
    assert got["ContentType"] == "application/x-test"
    assert got["Metadata"] == {"m": "1"}
    assert (nimbus.s3_root() / bucket / "big" / "object.bin").read_bytes() == part1 + part2
    assert s3.list_multipart_uploads(Bucket=bucket).get("Uploads", []) == []
    # a part of the finished object
    part = s3.get_object(Bucket=bucket, Key="big/object.bin", PartNumber=2)
    assert part["Body"].read() == part2
    assert part["PartsCount"] == 2


def test_upload_part_copy(s3: Any, bucket: str) -> None:
    source = os.urandom(6 * MIB)
    s3.put_object(Bucket=bucket, Key="source.bin", Body=source)
    upload_id = s3.create_multipart_upload(Bucket=bucket, Key="assembled.bin")["UploadId"]
    c1 = s3.upload_part_copy(
        Bucket=bucket,
        Key="assembled.bin",
        UploadId=upload_id,
        PartNumber=1,
        CopySource={"Bucket": bucket, "Key": "source.bin"},
    )
    assert c1["CopyPartResult"]["ETag"] == md5_etag(source)
    c2 = s3.upload_part_copy(
        Bucket=bucket,
        Key="assembled.bin",
        UploadId=upload_id,
        PartNumber=2,
        CopySource=f"{bucket}/source.bin",
        CopySourceRange="bytes=100-1123",
    )
    assert c2["CopyPartResult"]["ETag"] == md5_etag(source[100:1124])
    s3.complete_multipart_upload(
        Bucket=bucket,
        Key="assembled.bin",
        UploadId=upload_id,
        MultipartUpload={
            "Parts": [
                {"PartNumber": 1, "ETag": c1["CopyPartResult"]["ETag"]},
                {"PartNumber": 2, "ETag": c2["CopyPartResult"]["ETag"]},
            ]
        },
    )
    assert s3.get_object(Bucket=bucket, Key="assembled.bin")["Body"].read() == source + source[100:1124]


def test_abort_multipart_upload(nimbus: NimbusServer, s3: Any, bucket: str) -> None:
    before = snapshot_files(nimbus.s3_root() / bucket)
    upload_id = s3.create_multipart_upload(Bucket=bucket, Key="aborted")["UploadId"]
    s3.upload_part(Bucket=bucket, Key="aborted", UploadId=upload_id, PartNumber=1, Body=b"x" * 1024)
    resp = s3.abort_multipart_upload(Bucket=bucket, Key="aborted", UploadId=upload_id)
    assert resp["ResponseMetadata"]["HTTPStatusCode"] == 204
    assert s3.list_multipart_uploads(Bucket=bucket).get("Uploads", []) == []
    with pytest.raises(ClientError) as exc:
        s3.list_parts(Bucket=bucket, Key="aborted", UploadId=upload_id)
    assert error_code(exc) == "NoSuchUpload"
    assert http_status(exc) == 404
    with pytest.raises(ClientError) as exc:
        s3.upload_part(Bucket=bucket, Key="aborted", UploadId=upload_id, PartNumber=2, Body=b"late")
    assert error_code(exc) == "NoSuchUpload"
    assert list_keys(s3, bucket) == []
    assert snapshot_files(nimbus.s3_root() / bucket) == before


def test_list_multipart_uploads_prefix(s3: Any, bucket: str) -> None:
    ids = {
        key: s3.create_multipart_upload(Bucket=bucket, Key=key)["UploadId"] for key in ("x/1", "x/2", "y/1")
    }
    listed = s3.list_multipart_uploads(Bucket=bucket, Prefix="x/")["Uploads"]
    assert sorted((u["Key"], u["UploadId"]) for u in listed) == [("x/1", ids["x/1"]), ("x/2", ids["x/2"])]
    grouped = s3.list_multipart_uploads(Bucket=bucket, Delimiter="/")
    assert sorted(p["Prefix"] for p in grouped["CommonPrefixes"]) == ["x/", "y/"]
    for key, upload_id in ids.items():
        s3.abort_multipart_upload(Bucket=bucket, Key=key, UploadId=upload_id)
    assert s3.list_multipart_uploads(Bucket=bucket).get("Uploads", []) == []


def test_entity_too_small(nimbus: NimbusServer, s3: Any, bucket: str) -> None:
    upload_id = s3.create_multipart_upload(Bucket=bucket, Key="small")["UploadId"]
    e1 = s3.upload_part(Bucket=bucket, Key="small", UploadId=upload_id, PartNumber=1, Body=b"a" * 1024)[
        "ETag"
    ]
    e2 = s3.upload_part(Bucket=bucket, Key="small", UploadId=upload_id, PartNumber=2, Body=b"b" * 1024)[
        "ETag"
    ]
    with pytest.raises(ClientError) as exc:
        s3.complete_multipart_upload(
            Bucket=bucket,
            Key="small",
            UploadId=upload_id,
            MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": e1}, {"PartNumber": 2, "ETag": e2}]},
        )
    assert error_code(exc) == "EntityTooSmall"
    assert http_status(exc) == 400
    assert list_keys(s3, bucket) == []
    assert not (nimbus.s3_root() / bucket / "small").exists()
    # the upload is still there and can be aborted
    assert [u["UploadId"] for u in s3.list_multipart_uploads(Bucket=bucket)["Uploads"]] == [upload_id]

    # a single small part is allowed: the last part has no minimum
    one = s3.create_multipart_upload(Bucket=bucket, Key="one-part")["UploadId"]
    e = s3.upload_part(Bucket=bucket, Key="one-part", UploadId=one, PartNumber=1, Body=b"tiny")["ETag"]
    s3.complete_multipart_upload(
        Bucket=bucket, Key="one-part", UploadId=one, MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": e}]}
    )
    assert s3.get_object(Bucket=bucket, Key="one-part")["Body"].read() == b"tiny"


def test_invalid_part_and_order(nimbus: NimbusServer, s3: Any, bucket: str) -> None:
    upload_id = s3.create_multipart_upload(Bucket=bucket, Key="bad")["UploadId"]
    p1 = os.urandom(5 * MIB)
    e1 = s3.upload_part(Bucket=bucket, Key="bad", UploadId=upload_id, PartNumber=1, Body=p1)["ETag"]
    p2 = os.urandom(5 * MIB)  # both parts are big enough: only the order can be wrong below
    e2 = s3.upload_part(Bucket=bucket, Key="bad", UploadId=upload_id, PartNumber=2, Body=p2)["ETag"]

    with pytest.raises(ClientError) as exc:  # a part that was never uploaded
        s3.complete_multipart_upload(
            Bucket=bucket,
            Key="bad",
            UploadId=upload_id,
            MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": e1}, {"PartNumber": 3, "ETag": e2}]},
        )
    assert error_code(exc) == "InvalidPart"
    assert http_status(exc) == 400

    with pytest.raises(ClientError) as exc:  # the wrong ETag for a part
        s3.complete_multipart_upload(
            Bucket=bucket,
            Key="bad",
            UploadId=upload_id,
            MultipartUpload={
                "Parts": [
                    {"PartNumber": 1, "ETag": '"0123456789abcdef0123456789abcdef"'},
                    {"PartNumber": 2, "ETag": e2},
                ]
            },
        )
    assert error_code(exc) == "InvalidPart"

    with pytest.raises(ClientError) as exc:
        s3.complete_multipart_upload(
            Bucket=bucket,
            Key="bad",
            UploadId=upload_id,
            MultipartUpload={"Parts": [{"PartNumber": 2, "ETag": e2}, {"PartNumber": 1, "ETag": e1}]},
        )
    assert error_code(exc) == "InvalidPartOrder"
    assert http_status(exc) == 400

    with pytest.raises(ClientError) as exc:
        s3.complete_multipart_upload(
            Bucket=bucket,
            Key="bad",
            UploadId="no-such-upload-id",
            MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": e1}]},
        )
    assert error_code(exc) == "NoSuchUpload"
    assert list_keys(s3, bucket) == []
    assert not (nimbus.s3_root() / bucket / "bad").exists()

    # after all those refusals the upload still completes
    s3.complete_multipart_upload(
        Bucket=bucket,
        Key="bad",
        UploadId=upload_id,
        MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": e1}, {"PartNumber": 2, "ETag": e2}]},
    )
    assert (nimbus.s3_root() / bucket / "bad").read_bytes() == p1 + p2


@pytest.mark.slow
def test_upload_file_200_mib(nimbus: NimbusServer, s3: Any, bucket: str, tmp_path: Path) -> None:
    """The one large case: a 200 MiB multipart upload_file and download_file, compared by md5."""
    src = tmp_path / "big.bin"
    base = os.urandom(MIB)
    md5 = hashlib.md5()
    with open(src, "wb") as f:
        for i in range(200):
            block = i.to_bytes(8, "big") + base[8:]  # every MiB differs, cheaply
            md5.update(block)
            f.write(block)
    config = TransferConfig(multipart_threshold=16 * MIB, multipart_chunksize=16 * MIB, max_concurrency=4)
    s3.upload_file(str(src), bucket, "large/200mib.bin", Config=config)

    head = s3.head_object(Bucket=bucket, Key="large/200mib.bin")
    assert head["ContentLength"] == 200 * MIB
    assert head["ETag"].endswith('-13"')  # 12 parts of 16 MiB and one of 8 MiB
    on_disk = nimbus.s3_root() / bucket / "large" / "200mib.bin"
    assert on_disk.stat().st_size == 200 * MIB

    dst = tmp_path / "back.bin"
    s3.download_file(bucket, "large/200mib.bin", str(dst), Config=config)
    back = hashlib.md5()
    with open(dst, "rb") as f:
        while chunk := f.read(8 * MIB):
            back.update(chunk)
    assert back.hexdigest() == md5.hexdigest()
    disk = hashlib.md5()
    with open(on_disk, "rb") as f:
        while chunk := f.read(8 * MIB):
            disk.update(chunk)
    assert disk.hexdigest() == md5.hexdigest()
