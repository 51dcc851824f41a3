"""S3 through clients nobody here wrote, in their default settings: s3cmd, rclone, pyarrow's
S3FileSystem (and pandas reading Parquet through it). The AWS CLI has its own module (test_s3_cli.py)."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import requests
from conftest import NimbusServer, list_keys, unique_bucket_name
from pyarrow import fs

BIN = Path(sys.executable).parent
MIB = 1024 * 1024


def _run(command: list[str], env: dict[str, str] | None = None) -> str:
    done = subprocess.run(command, capture_output=True, text=True, timeout=180, env=env, check=False)
    assert done.returncode == 0, (
        f"{' '.join(command)} exited {done.returncode}:\n{done.stdout}\n{done.stderr}"
    )
    return done.stdout


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder with a small file and a 12 MiB one (multipart for every client below)."""
    folder = tmp_path_factory.mktemp("client-files")
    (folder / "small.txt").write_text("hello from a client\n")
    (folder / "nested").mkdir()
    (folder / "nested" / "big.bin").write_bytes(os.urandom(12 * MIB))
    return folder


def _md5(path: Path) -> str:
    return hashlib.md5(path.read_bytes()).hexdigest()


# ---- s3cmd -------------------------------------------------------------------------------------


def _s3cmd_config(nimbus: NimbusServer, tmp_path: Path, *extra: str) -> Path:
    host = f"{nimbus.host}:{nimbus.port}"
    config = tmp_path / "s3cfg"
    lines = [
        "[default]",
        f"access_key = {nimbus.access_key}",
        f"secret_key = {nimbus.secret_key}",
        f"host_base = {host}",
        f"host_bucket = {host}",
        "use_https = False",
        *extra,
    ]
    config.write_text("\n".join(lines) + "\n")
    return config


@pytest.mark.parametrize("signing", ["v4", "v2"])
def test_s3cmd_common_commands(
    nimbus: NimbusServer, s3: Any, files: Path, tmp_path: Path, signing: str
) -> None:
    """s3cmd's defaults sign with the legacy region "US" (mb used to be refused for it); with
    signature_v2 it signs every request with SigV2 headers."""
    config = _s3cmd_config(nimbus, tmp_path, f"signature_v2 = {signing == 'v2'}")
    s3cmd = [str(BIN / "s3cmd"), "-c", str(config)]
    bucket = unique_bucket_name("s3cmd")
    _run([*s3cmd, "mb", f"s3://{bucket}"])
    _run(
        [
            *s3cmd,
            "put",
            "--multipart-chunk-size-mb=5",
            str(files / "nested" / "big.bin"),
            f"s3://{bucket}/big.bin",
        ]
    )
    _run([*s3cmd, "sync", f"{files}/", f"s3://{bucket}/synced/"])
    listed = _run([*s3cmd, "ls", "-r", f"s3://{bucket}"])
    assert f"s3://{bucket}/synced/nested/big.bin" in listed and f"s3://{bucket}/synced/small.txt" in listed
    assert s3.head_object(Bucket=bucket, Key="big.bin")["ETag"].endswith('-3"')  # 3 parts of 5 MiB or less
    _run([*s3cmd, "get", f"s3://{bucket}/big.bin", str(tmp_path / "back.bin")])
    assert _md5(tmp_path / "back.bin") == _md5(files / "nested" / "big.bin")
    url = _run([*s3cmd, "signurl", f"s3://{bucket}/synced/small.txt", "+600"]).strip()
    assert requests.get(url, timeout=30).text == "hello from a client\n"
    _run([*s3cmd, "del", "--recursive", "--force", f"s3://{bucket}"])
    _run([*s3cmd, "rb", f"s3://{bucket}"])
    assert bucket not in [b["Name"] for b in s3.list_buckets()["Buckets"]]


# ---- rclone ------------------------------------------------------------------------------------


def test_rclone_common_commands(nimbus: NimbusServer, s3: Any, files: Path, tmp_path: Path) -> None:
    env = {
        **nimbus.env(),
        "RCLONE_CONFIG_NIMBUS_TYPE": "s3",
        "RCLONE_CONFIG_NIMBUS_PROVIDER": "Other",
        "RCLONE_CONFIG_NIMBUS_ENDPOINT": nimbus.endpoint_url,
        "RCLONE_CONFIG_NIMBUS_ACCESS_KEY_ID": nimbus.access_key,
        "RCLONE_CONFIG_NIMBUS_SECRET_ACCESS_KEY": nimbus.secret_key,
        "RCLONE_CONFIG_NIMBUS_REGION": nimbus.region,
    }
    rclone = [
        str(BIN / "rclone"),
        "--config",
        os.devnull,
        "--s3-upload-cutoff",
        "5M",
        "--s3-chunk-size",
        "5M",
    ]
    bucket = unique_bucket_name("rclone")
    _run([*rclone, "mkdir", f"nimbus:{bucket}"], env)
    _run([*rclone, "sync", str(files), f"nimbus:{bucket}/tree"], env)
    assert sorted(list_keys(s3, bucket)) == ["tree/nested/big.bin", "tree/small.txt"]
    assert s3.head_object(Bucket=bucket, Key="tree/nested/big.bin")["ETag"].endswith('-3"')
    _run([*rclone, "check", str(files), f"nimbus:{bucket}/tree"], env)  # sizes and MD5s agree
    _run([*rclone, "copyto", f"nimbus:{bucket}/tree/nested/big.bin", str(tmp_path / "back.bin")], env)
    assert _md5(tmp_path / "back.bin") == _md5(files / "nested" / "big.bin")
    link = _run([*rclone, "link", f"nimbus:{bucket}/tree/small.txt"], env).strip()
    assert requests.get(link, timeout=30).text == "hello from a client\n"
    (tmp_path / "local").mkdir()
    (tmp_path / "local" / "only.txt").write_text("the only file now")
    _run([*rclone, "sync", str(tmp_path / "local"), f"nimbus:{bucket}/tree"], env)
    assert list_keys(s3, bucket) == ["tree/only.txt"]
    _run([*rclone, "purge", f"nimbus:{bucket}"], env)
    assert bucket not in [b["Name"] for b in s3.list_buckets()["Buckets"]]


# ---- pyarrow and pandas ------------------------------------------------------------------------


@pytest.fixture
def arrow_s3(nimbus: NimbusServer) -> fs.S3FileSystem:
    return fs.S3FileSystem(
        access_key=nimbus.access_key,
        secret_key=nimbus.secret_key,
        endpoint_override=nimbus.endpoint_url,
        region=nimbus.region,
    )


def test_pyarrow_writes_and_reads_parquet(arrow_s3: fs.S3FileSystem, s3: Any, bucket: str) -> None:
    """pyarrow's S3 client (the AWS SDK for C++) asks for checksums as ``x-amz-checksum-mode: enabled``."""
    table = pa.table({"id": list(range(50_000)), "name": [f"row {i}" for i in range(50_000)]})
    pq.write_table(table, f"{bucket}/tables/rows.parquet", filesystem=arrow_s3)
    info = arrow_s3.get_file_info(f"{bucket}/tables/rows.parquet")
    assert (
        info.type == fs.FileType.File
        and info.size == s3.head_object(Bucket=bucket, Key="tables/rows.parquet")["ContentLength"]
    )
    assert pq.read_table(f"{bucket}/tables/rows.parquet", filesystem=arrow_s3).equals(table)
    frame = pd.read_parquet(f"{bucket}/tables/rows.parquet", filesystem=arrow_s3)
    assert frame["name"].iloc[-1] == "row 49999"
    listed = arrow_s3.get_file_info(fs.FileSelector(f"{bucket}/tables"))
    assert [entry.path for entry in listed] == [f"{bucket}/tables/rows.parquet"]
    arrow_s3.delete_file(f"{bucket}/tables/rows.parquet")
    assert list_keys(s3, bucket) == ["tables/"]  # pyarrow keeps the emptied "directory" as a marker


def test_pandas_parquet_through_s3fs(nimbus: NimbusServer, bucket: str) -> None:
    options = {
        "key": nimbus.access_key,
        "secret": nimbus.secret_key,
        "client_kwargs": {"endpoint_url": nimbus.endpoint_url, "region_name": nimbus.region},
    }
    frame = pd.DataFrame({"x": range(1000), "y": [i * 0.5 for i in range(1000)]})
    frame.to_parquet(f"s3://{bucket}/frame.parquet", storage_options=options)
    back = pd.read_parquet(f"s3://{bucket}/frame.parquet", storage_options=options)
    pd.testing.assert_frame_equal(back, frame)
