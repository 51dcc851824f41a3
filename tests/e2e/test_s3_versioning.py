"""Bucket versioning through boto3: version ids, delete markers, the null version, listing with
markers and paging, and every per-version operation. The current version stays the plain file."""

from __future__ import annotations

import hashlib
import os
import time
from typing import Any
from xml.etree import ElementTree

import pytest
from botocore.exceptions import ClientError
from conftest import NimbusServer, error_code, http_status, list_keys, signed_request, snapshot_files

from nimbus.storage.database import Database
from nimbus.storage.leak_sweep import STALE_S, Swept, sweep_leaks


def enable(s3: Any, bucket: str, status: str = "Enabled") -> None:
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": status})


Entry = tuple[str, str, bool, bool]  # key, version id, is latest, is a delete marker


def versions(nimbus: NimbusServer, bucket: str) -> list[Entry]:
    """Every version, then every delete marker, each in listing order (key, then newest first), as the
    XML lists them."""
    answer = signed_request(nimbus, "GET", f"/{bucket}?versions")
    assert answer.status == 200, answer.text
    found = []
    for element in ElementTree.fromstring(answer.body):
        kind = element.tag.rsplit("}", 1)[-1]
        if kind in ("Version", "DeleteMarker"):
            fields = {child.tag.rsplit("}", 1)[-1]: child.text or "" for child in element}
            found.append(
                (fields["Key"], fields["VersionId"], fields["IsLatest"] == "true", kind == "DeleteMarker")
            )
    return found


def paged(s3: Any, bucket: str, page_size: int) -> list[Entry]:
    """The same through boto3's paginator, page by page (each page's two lists one after the other)."""
    found: list[Entry] = []
    config = {"PageSize": page_size}
    for page in s3.get_paginator("list_object_versions").paginate(Bucket=bucket, PaginationConfig=config):
        for kind, marker in (("Versions", False), ("DeleteMarkers", True)):
            found += [(e["Key"], e["VersionId"], e["IsLatest"], marker) for e in page.get(kind, [])]
    return found


def body(s3: Any, bucket: str, key: str, version_id: str | None = None) -> bytes:
    extra = {"VersionId": version_id} if version_id else {}
    return bytes(s3.get_object(Bucket=bucket, Key=key, **extra)["Body"].read())


def blob_count(nimbus: NimbusServer, bucket: str) -> int:
    folder = nimbus.s3_root() / ".blobs" / bucket
    return len(os.listdir(folder)) if folder.exists() else 0


def test_versions_delete_markers_and_the_plain_file(nimbus: NimbusServer, s3: Any, bucket: str) -> None:
    plain = nimbus.s3_root() / bucket / "data.csv"
    s3.put_object(Bucket=bucket, Key="data.csv", Body=b"before versioning")
    assert s3.get_bucket_versioning(Bucket=bucket).get("Status") is None
    assert "VersionId" not in s3.head_object(Bucket=bucket, Key="data.csv")
    enable(s3, bucket)
    assert s3.get_bucket_versioning(Bucket=bucket)["Status"] == "Enabled"
    assert s3.head_object(Bucket=bucket, Key="data.csv")["VersionId"] == "null"
    v1 = s3.put_object(Bucket=bucket, Key="data.csv", Body=b"one")["VersionId"]
    v2 = s3.put_object(Bucket=bucket, Key="data.csv", Body=b"two")["VersionId"]
    assert len({v1, v2, "null"}) == 3
    assert plain.read_bytes() == b"two" and blob_count(nimbus, bucket) == 2  # older versions kept aside
    assert [body(s3, bucket, "data.csv", v) for v in ("null", v1, v2)] == [
        b"before versioning",
        b"one",
        b"two",
    ]
    assert s3.head_object(Bucket=bucket, Key="data.csv", VersionId=v1)["ContentLength"] == 3
    assert versions(nimbus, bucket) == [
        ("data.csv", v2, True, False),
        ("data.csv", v1, False, False),
        ("data.csv", "null", False, False),
    ]

    marker = s3.delete_object(Bucket=bucket, Key="data.csv")
    assert marker["DeleteMarker"] is True
    assert not plain.exists() and list_keys(s3, bucket) == []
    with pytest.raises(ClientError) as exc:
        s3.get_object(Bucket=bucket, Key="data.csv")
    headers = exc.value.response["ResponseMetadata"]["HTTPHeaders"]
    assert (error_code(exc), headers["x-amz-delete-marker"], headers["x-amz-version-id"]) == (
        "NoSuchKey",
        "true",
        marker["VersionId"],
    )
    with pytest.raises(ClientError) as exc:
        s3.head_object(Bucket=bucket, Key="data.csv", VersionId=marker["VersionId"])
    assert http_status(exc) == 405
    assert versions(nimbus, bucket) == [
        ("data.csv", v2, False, False),
        ("data.csv", v1, False, False),
        ("data.csv", "null", False, False),
        ("data.csv", marker["VersionId"], True, True),
    ]

    # removing the marker brings the newest version back, as the plain file
    assert s3.delete_object(Bucket=bucket, Key="data.csv", VersionId=marker["VersionId"])["DeleteMarker"]
    assert plain.read_bytes() == b"two"
    s3.delete_object(Bucket=bucket, Key="data.csv", VersionId=v2)
    assert plain.read_bytes() == b"one" and body(s3, bucket, "data.csv") == b"one"
    s3.delete_object(Bucket=bucket, Key="data.csv", VersionId="null")
    s3.delete_object(Bucket=bucket, Key="data.csv", VersionId="null")  # gone already: still 204
    assert versions(nimbus, bucket) == [("data.csv", v1, True, False)]
    assert blob_count(nimbus, bucket) == 0
    s3.delete_object(Bucket=bucket, Key="data.csv", VersionId=v1)
    assert versions(nimbus, bucket) == [] and os.listdir(nimbus.s3_root() / bucket) == []
    s3.delete_bucket(Bucket=bucket)
    s3.create_bucket(Bucket=bucket)  # for the fixture's clean-up


def test_suspended_bucket_writes_the_null_version(nimbus: NimbusServer, s3: Any, bucket: str) -> None:
    enable(s3, bucket)
    kept = s3.put_object(Bucket=bucket, Key="k", Body=b"kept")["VersionId"]
    enable(s3, bucket, "Suspended")
    assert s3.get_bucket_versioning(Bucket=bucket)["Status"] == "Suspended"
    first = s3.put_object(Bucket=bucket, Key="k", Body=b"null one")
    assert "VersionId" not in first  # the null version is not reported by writes
    s3.put_object(Bucket=bucket, Key="k", Body=b"null two")  # replaces the null version
    assert versions(nimbus, bucket) == [("k", "null", True, False), ("k", kept, False, False)]
    assert body(s3, bucket, "k", "null") == b"null two"
    marker = s3.delete_object(Bucket=bucket, Key="k")
    assert (marker["DeleteMarker"], marker["VersionId"]) == (True, "null")
    assert versions(nimbus, bucket) == [("k", kept, False, False), ("k", "null", True, True)]
    enable(s3, bucket)
    s3.delete_object(Bucket=bucket, Key="k", VersionId="null")
    assert body(s3, bucket, "k") == b"kept"


def test_list_object_versions_markers_paging_and_prefixes(nimbus: NimbusServer, s3: Any, bucket: str) -> None:
    enable(s3, bucket)
    for key in ("a", "b/1", "b/2", "c"):
        for generation in range(3):
            s3.put_object(Bucket=bucket, Key=key, Body=f"{key} {generation}".encode())
    s3.delete_object(Bucket=bucket, Key="c")
    everything = versions(nimbus, bucket)
    assert (
        len(everything) == 13
        and [entry[0] for entry in everything] == ["a"] * 3 + ["b/1"] * 3 + ["b/2"] * 3 + ["c"] * 4
    )
    assert [entry[2] for entry in everything if entry[2]] == [True] * 4  # one latest per key
    assert sorted(paged(s3, bucket, 2)) == sorted(everything)
    # resuming after a given version of a key lists that key's older versions, then later keys
    page = s3.list_object_versions(
        Bucket=bucket, KeyMarker="b/1", VersionIdMarker=everything[4][1], MaxKeys=2
    )
    assert [v["VersionId"] for v in page["Versions"]] == [everything[5][1], everything[6][1]]
    assert (page["NextKeyMarker"], page["NextVersionIdMarker"], page["IsTruncated"]) == (
        "b/2",
        everything[6][1],
        True,
    )
    rolled = s3.list_object_versions(Bucket=bucket, Delimiter="/")
    assert rolled["CommonPrefixes"] == [{"Prefix": "b/"}]
    assert {v["Key"] for v in rolled["Versions"]} == {"a", "c"}
    # MaxKeys counts versions and common prefixes together; the next page starts after the prefix
    page = s3.list_object_versions(Bucket=bucket, Delimiter="/", MaxKeys=4)
    assert [v["Key"] for v in page["Versions"]] == ["a"] * 3 and page["CommonPrefixes"] == [{"Prefix": "b/"}]
    assert (page["IsTruncated"], page["NextKeyMarker"]) == (True, "b/")
    rest = s3.list_object_versions(Bucket=bucket, Delimiter="/", KeyMarker="b/")
    assert [v["Key"] for v in rest["Versions"] + rest["DeleteMarkers"]] == ["c"] * 4
    assert "CommonPrefixes" not in rest and rest["IsTruncated"] is False
    with pytest.raises(ClientError) as exc:
        s3.list_object_versions(Bucket=bucket, VersionIdMarker=everything[0][1])
    assert error_code(exc) == "InvalidArgument"


def test_per_version_copy_tags_attributes_and_bulk_delete(nimbus: NimbusServer, s3: Any, bucket: str) -> None:
    enable(s3, bucket)
    old = s3.put_object(Bucket=bucket, Key="src", Body=b"old bytes", Tagging="gen=old")["VersionId"]
    new = s3.put_object(Bucket=bucket, Key="src", Body=b"new bytes!")["VersionId"]
    copied = s3.copy_object(
        Bucket=bucket, Key="dst", CopySource={"Bucket": bucket, "Key": "src", "VersionId": old}
    )
    assert copied["CopySourceVersionId"] == old and copied["VersionId"] not in (old, new)
    assert body(s3, bucket, "dst") == b"old bytes"
    assert s3.get_object_tagging(Bucket=bucket, Key="src", VersionId=old)["TagSet"] == [
        {"Key": "gen", "Value": "old"}
    ]
    s3.put_object_tagging(
        Bucket=bucket, Key="src", VersionId=old, Tagging={"TagSet": [{"Key": "x", "Value": "y"}]}
    )
    assert s3.get_object_tagging(Bucket=bucket, Key="src")["TagSet"] == []  # the current one is untouched
    attributes = s3.get_object_attributes(
        Bucket=bucket, Key="src", VersionId=old, ObjectAttributes=["ObjectSize", "ETag"]
    )
    assert (attributes["ObjectSize"], attributes["VersionId"]) == (9, old)
    result = s3.delete_objects(
        Bucket=bucket,
        Delete={
            "Objects": [{"Key": "src", "VersionId": old}, {"Key": "dst"}, {"Key": "src", "VersionId": "bad"}]
        },
    )
    deleted = {(d["Key"], d.get("VersionId")): d for d in result["Deleted"]}
    assert deleted[("dst", None)]["DeleteMarker"] is True and deleted[("dst", None)]["DeleteMarkerVersionId"]
    assert ("src", old) in deleted
    assert [(e["Key"], e["Code"]) for e in result["Errors"]] == [("src", "InvalidArgument")]
    assert [entry[1] for entry in versions(nimbus, bucket) if entry[0] == "src"] == [new]


def test_bad_version_input_changes_nothing(nimbus: NimbusServer, s3: Any, bucket: str) -> None:
    enable(s3, bucket)
    current = s3.put_object(Bucket=bucket, Key="k", Body=b"x")["VersionId"]
    before = snapshot_files(nimbus.s3_root() / bucket)
    cases = [
        (lambda: s3.get_object(Bucket=bucket, Key="k", VersionId="not a version"), "InvalidArgument", 400),
        (lambda: s3.get_object(Bucket=bucket, Key="k", VersionId="A" * 32), "NoSuchVersion", 404),
        (lambda: s3.delete_object(Bucket=bucket, Key="k", VersionId="nope"), "InvalidArgument", 400),
        (
            lambda: s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "On"}),
            "MalformedXML",
            400,
        ),
        (
            lambda: s3.put_bucket_versioning(
                Bucket=bucket, VersioningConfiguration={"Status": "Enabled", "MFADelete": "Enabled"}
            ),
            "NotImplemented",
            501,
        ),
        (lambda: s3.delete_bucket(Bucket=bucket), "BucketNotEmpty", 409),
    ]
    for call, code, status in cases:
        with pytest.raises(ClientError) as exc:
            call()
        assert (error_code(exc), http_status(exc)) == (code, status)
    s3.delete_object(Bucket=bucket, Key="k")  # only a delete marker is left: still not empty
    with pytest.raises(ClientError) as exc:
        s3.delete_bucket(Bucket=bucket)
    assert error_code(exc) == "BucketNotEmpty"
    s3.delete_object(Bucket=bucket, Key="k", VersionId=versions(nimbus, bucket)[-1][1])
    assert body(s3, bucket, "k") == b"x" and snapshot_files(nimbus.s3_root() / bucket) == before
    assert s3.get_bucket_versioning(Bucket=bucket)["Status"] == "Enabled"
    assert versions(nimbus, bucket) == [("k", current, True, False)]


def test_leak_sweep_removes_what_a_crash_leaves_and_keeps_what_rows_name(
    nimbus: NimbusServer, s3: Any, bucket: str
) -> None:
    """Files a process killed mid-change leaves (planted as it leaves them) go once stale; files rows name
    stay, however old. The sweep runs here as a second node sharing the data dir and database would."""
    enable(s3, bucket)
    old = s3.put_object(Bucket=bucket, Key="k", Body=b"old")["VersionId"]
    s3.put_object(Bucket=bucket, Key="k", Body=b"new")  # the old version: a blob its row names
    upload = s3.create_multipart_upload(Bucket=bucket, Key="big")["UploadId"]
    etag = s3.upload_part(Bucket=bucket, Key="big", UploadId=upload, PartNumber=1, Body=b"part")["ETag"]
    root = nimbus.s3_root()
    # killed after keeping the current version aside (a hard link), before its row committed
    leaked_blob = root / ".blobs" / bucket / ("a" * 32)
    os.link(root / bucket / "k", leaked_blob)
    # killed after CompleteMultipartUpload committed, before the upload's folder went
    leaked_upload = root / ".uploads" / ("0" * 32)
    leaked_upload.mkdir()
    (leaked_upload / f"1-{hashlib.md5(b'part').hexdigest()}").write_bytes(b"part")
    url = nimbus.settings.get("NIMBUS_DATABASE_URL") or f"sqlite:///{nimbus.data_dir / 'nimbus.db'}"
    database = Database.open(url)
    try:
        assert sweep_leaks(root, database) == Swept()  # fresh: they may be another node's live change
        swept = sweep_leaks(root, database, now=time.time() + STALE_S + 1)
    finally:
        database.close()
    assert not leaked_blob.exists() and not leaked_upload.exists()
    assert swept.files >= 2 and swept.bytes >= len(b"new") + len(b"part")
    assert body(s3, bucket, "k", old) == b"old" and body(s3, bucket, "k") == b"new"
    parts = {"Parts": [{"PartNumber": 1, "ETag": etag}]}
    s3.complete_multipart_upload(Bucket=bucket, Key="big", UploadId=upload, MultipartUpload=parts)
    assert body(s3, bucket, "big") == b"part"
