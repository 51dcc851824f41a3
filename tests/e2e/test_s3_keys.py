"""Every key S3 accepts is stored: plain files where a path can hold them, kept aside otherwise, and
served and listed the same either way."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError
from conftest import NimbusServer, error_code, http_status, list_keys, snapshot_files

# keys no file system path can hold, each with its reason
ODD_KEYS = [
    "dots/../escape",  # a ".." segment: as a path it would leave its folder
    "../outside",  # ... and its bucket
    "./here",
    "double//slash",
    "/leading-slash",
    "trailing//",
    "folder-with-body/",  # a key ending in "/" is a folder on disk, which holds no bytes
    "s" * 256 + "/long-segment",  # over NAME_MAX
]


def file_names(root: Path) -> set[str]:
    return {
        (Path(folder) / name).relative_to(root).as_posix()
        for folder, _, names in os.walk(root)
        for name in names
    }


def blob_count(nimbus: NimbusServer, bucket: str) -> int:
    blobs = nimbus.s3_root() / ".blobs" / bucket
    return len(os.listdir(blobs)) if blobs.exists() else 0


def test_every_key_is_stored_listed_and_served(nimbus: NimbusServer, s3: Any, bucket: str) -> None:
    before = file_names(nimbus.data_dir)
    bodies = {key: f"body of {key!r}".encode() for key in ODD_KEYS}
    for key, body in bodies.items():
        s3.put_object(Bucket=bucket, Key=key, Body=body, Metadata={"kind": "odd"})
    assert list_keys(s3, bucket) == sorted(bodies, key=str.encode)
    for key, body in bodies.items():
        got = s3.get_object(Bucket=bucket, Key=key, Range="bytes=0-6")
        assert got["Body"].read() == body[:7], key
        assert s3.head_object(Bucket=bucket, Key=key)["Metadata"] == {"kind": "odd"}
    # nothing lands at a path, in the bucket's folder or outside it: all of them are kept aside
    assert os.listdir(nimbus.s3_root() / bucket) == []
    assert blob_count(nimbus, bucket) == len(ODD_KEYS)
    new = file_names(nimbus.data_dir) - before
    assert all(name.startswith(f"s3/.blobs/{bucket}/") or name.startswith("nimbus.db") for name in new), new
    # delimiters see the same keys; copies to and from odd keys work
    top = s3.list_objects_v2(Bucket=bucket, Delimiter="/")
    assert [p["Prefix"] for p in top["CommonPrefixes"]] == [
        "../",
        "./",
        "/",
        "dots/",
        "double/",
        "folder-with-body/",
        "s" * 256 + "/",
        "trailing/",
    ]
    s3.copy_object(Bucket=bucket, Key="plain/copy", CopySource={"Bucket": bucket, "Key": "dots/../escape"})
    s3.copy_object(Bucket=bucket, Key="a//copy", CopySource={"Bucket": bucket, "Key": "plain/copy"})
    assert (nimbus.s3_root() / bucket / "plain" / "copy").read_bytes() == bodies["dots/../escape"]
    assert s3.get_object(Bucket=bucket, Key="a//copy")["Body"].read() == bodies["dots/../escape"]
    deleted = s3.delete_objects(
        Bucket=bucket, Delete={"Objects": [{"Key": key} for key in list_keys(s3, bucket)]}
    )
    assert len(deleted["Deleted"]) == len(ODD_KEYS) + 2
    assert list_keys(s3, bucket) == [] and blob_count(nimbus, bucket) == 0
    assert os.listdir(nimbus.s3_root() / bucket) == []


def test_file_beside_folder_keeps_the_first_in_place(nimbus: NimbusServer, s3: Any, bucket: str) -> None:
    root = nimbus.s3_root() / bucket
    s3.put_object(Bucket=bucket, Key="a", Body=b"file a")
    s3.put_object(Bucket=bucket, Key="a/b", Body=b"under a")  # "a" is a file: kept aside
    s3.put_object(Bucket=bucket, Key="x/y", Body=b"under x")
    s3.put_object(Bucket=bucket, Key="x", Body=b"beside x/")  # "x" is a folder: kept aside
    s3.put_object(Bucket=bucket, Key="x/", Body=b"")  # the folder object is the folder itself
    assert list_keys(s3, bucket) == ["a", "a/b", "x", "x/", "x/y"]
    assert (root / "a").read_bytes() == b"file a" and (root / "x" / "y").read_bytes() == b"under x"
    listed = s3.list_objects_v2(Bucket=bucket, Prefix="x", Delimiter="/")
    assert [o["Key"] for o in listed["Contents"]] == ["x"] and listed["CommonPrefixes"] == [{"Prefix": "x/"}]
    for key, body in (("a", b"file a"), ("a/b", b"under a"), ("x", b"beside x/"), ("x/y", b"under x")):
        assert s3.get_object(Bucket=bucket, Key=key)["Body"].read() == body
    # once the path is free, the next write of the key is a plain file again
    s3.delete_object(Bucket=bucket, Key="a")
    s3.put_object(Bucket=bucket, Key="a/b", Body=b"now in place")
    assert (root / "a" / "b").read_bytes() == b"now in place"
    assert blob_count(nimbus, bucket) == 1  # "x" only


def test_key_limits(nimbus: NimbusServer, s3: Any, bucket: str) -> None:
    before = snapshot_files(nimbus.s3_root())
    with pytest.raises(ClientError) as exc:
        s3.put_object(Bucket=bucket, Key="k/" * 600, Body=b"x")  # 1,200 bytes
    assert (error_code(exc), http_status(exc)) == ("KeyTooLongError", 400)
    assert snapshot_files(nimbus.s3_root()) == before
    long_key = "/".join(["d" * 255] * 3 + ["d" * 254, "e"])  # 1,024 bytes, every segment fits a path
    s3.put_object(Bucket=bucket, Key=long_key, Body=b"long")
    assert s3.get_object(Bucket=bucket, Key=long_key)["Body"].read() == b"long"
    assert (nimbus.s3_root() / bucket).joinpath(*long_key.split("/")).read_bytes() == b"long"
