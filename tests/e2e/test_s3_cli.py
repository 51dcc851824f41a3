"""The AWS CLI (v1) against Nimbus: `aws s3` high-level commands and `aws s3api`."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from conftest import NimbusServer, list_keys, unique_bucket_name

AWS = Path(sys.executable).parent / "aws"


def aws(nimbus: NimbusServer, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(
        [sys.executable, str(AWS), "--endpoint-url", nimbus.endpoint_url, *args],
        env=nimbus.env(),
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    if check:
        assert proc.returncode == 0, (
            f"aws {' '.join(args)} -> {proc.returncode}\n{proc.stdout}\n{proc.stderr}"
        )
    return proc


@pytest.fixture(scope="module", autouse=True)
def _cli_present() -> None:
    if not AWS.exists():
        pytest.fail(f"the AWS CLI is not installed at {AWS}")


def test_s3_mb_cp_ls_rm_rb(nimbus: NimbusServer, s3: Any, tmp_path: Path) -> None:
    name = unique_bucket_name("cli")
    out = aws(nimbus, "s3", "mb", f"s3://{name}")
    assert f"make_bucket: {name}" in out.stdout
    assert name in [b["Name"] for b in s3.list_buckets()["Buckets"]]

    src = tmp_path / "hello.txt"
    src.write_text("hello from the cli\n")
    aws(nimbus, "s3", "cp", str(src), f"s3://{name}/greetings/hello.txt")
    assert s3.get_object(Bucket=name, Key="greetings/hello.txt")["Body"].read() == b"hello from the cli\n"
    assert (nimbus.s3_root() / name / "greetings" / "hello.txt").read_text() == "hello from the cli\n"

    top = aws(nimbus, "s3", "ls", f"s3://{name}/").stdout
    assert "PRE greetings/" in top
    inner = aws(nimbus, "s3", "ls", f"s3://{name}/greetings/").stdout
    assert "hello.txt" in inner and "19" in inner  # size column
    assert name in aws(nimbus, "s3", "ls").stdout

    back = tmp_path / "back.txt"
    aws(nimbus, "s3", "cp", f"s3://{name}/greetings/hello.txt", str(back))
    assert back.read_text() == "hello from the cli\n"

    aws(nimbus, "s3", "rm", f"s3://{name}/greetings/hello.txt")
    assert list_keys(s3, name) == []
    out = aws(nimbus, "s3", "rb", f"s3://{name}")
    assert f"remove_bucket: {name}" in out.stdout
    assert name not in [b["Name"] for b in s3.list_buckets()["Buckets"]]


def test_s3_sync_both_ways(nimbus: NimbusServer, s3: Any, bucket: str, tmp_path: Path) -> None:
    local = tmp_path / "up"
    files = {"a.txt": b"alpha", "sub/b.txt": b"bravo", "sub/deeper/c.bin": os.urandom(3000)}
    for rel, data in files.items():
        (local / rel).parent.mkdir(parents=True, exist_ok=True)
        (local / rel).write_bytes(data)
    aws(nimbus, "s3", "sync", str(local), f"s3://{bucket}/data/")
    assert sorted(list_keys(s3, bucket)) == sorted(f"data/{rel}" for rel in files)
    for rel, data in files.items():
        assert (nimbus.s3_root() / bucket / "data" / rel).read_bytes() == data

    # a second sync uploads nothing
    again = aws(nimbus, "s3", "sync", str(local), f"s3://{bucket}/data/")
    assert "upload:" not in again.stdout

    # a changed file is uploaded, a removed one is deleted with --delete
    (local / "a.txt").write_bytes(b"alpha, longer now")
    (local / "sub" / "b.txt").unlink()
    out = aws(nimbus, "s3", "sync", "--delete", str(local), f"s3://{bucket}/data/")
    assert "upload:" in out.stdout and "delete:" in out.stdout
    assert sorted(list_keys(s3, bucket)) == ["data/a.txt", "data/sub/deeper/c.bin"]
    assert s3.get_object(Bucket=bucket, Key="data/a.txt")["Body"].read() == b"alpha, longer now"

    down = tmp_path / "down"
    aws(nimbus, "s3", "sync", f"s3://{bucket}/data/", str(down))
    assert (down / "a.txt").read_bytes() == b"alpha, longer now"
    assert (down / "sub" / "deeper" / "c.bin").read_bytes() == files["sub/deeper/c.bin"]
    assert not (down / "sub" / "b.txt").exists()

    aws(nimbus, "s3", "rm", "--recursive", f"s3://{bucket}/data/")
    assert list_keys(s3, bucket) == []


def test_s3_cp_multipart(nimbus: NimbusServer, s3: Any, bucket: str, tmp_path: Path) -> None:
    data = os.urandom(12 * 1024 * 1024)  # over the CLI's 8 MiB multipart threshold
    src = tmp_path / "twelve.bin"
    src.write_bytes(data)
    aws(nimbus, "s3", "cp", str(src), f"s3://{bucket}/twelve.bin")
    head = s3.head_object(Bucket=bucket, Key="twelve.bin")
    assert head["ETag"].endswith('-2"')
    assert head["ContentLength"] == len(data)
    back = tmp_path / "back.bin"
    aws(nimbus, "s3", "cp", f"s3://{bucket}/twelve.bin", str(back))
    assert hashlib.md5(back.read_bytes()).hexdigest() == hashlib.md5(data).hexdigest()


def test_s3api_commands(nimbus: NimbusServer, s3: Any, bucket: str, tmp_path: Path) -> None:
    body = tmp_path / "body.json"
    body.write_text('{"x": 1}')
    put = json.loads(
        aws(
            nimbus,
            "s3api", "put-object", "--bucket", bucket, "--key", "api/doc.json", "--body", str(body),
            "--content-type", "application/json", "--metadata", "k1=v1", "--output", "json",
        ).stdout
    )  # fmt: skip
    assert put["ETag"] == '"' + hashlib.md5(b'{"x": 1}').hexdigest() + '"'

    head = json.loads(aws(nimbus, "s3api", "head-object", "--bucket", bucket, "--key", "api/doc.json").stdout)
    assert head["ContentType"] == "application/json"
    assert head["Metadata"] == {"k1": "v1"}
    assert head["ContentLength"] == 8

    listed = json.loads(
        aws(nimbus, "s3api", "list-objects-v2", "--bucket", bucket, "--prefix", "api/").stdout
    )
    assert [o["Key"] for o in listed["Contents"]] == ["api/doc.json"]

    out = tmp_path / "out.json"
    aws(nimbus, "s3api", "get-object", "--bucket", bucket, "--key", "api/doc.json", str(out))
    assert out.read_text() == '{"x": 1}'

    missing = aws(nimbus, "s3api", "get-object", "--bucket", bucket, "--key", "nope", str(out), check=False)
    assert missing.returncode != 0
    assert "NoSuchKey" in missing.stderr

    loc = json.loads(aws(nimbus, "s3api", "get-bucket-location", "--bucket", bucket).stdout)
    assert loc.get("LocationConstraint") in (None, "")

    aws(nimbus, "s3api", "delete-object", "--bucket", bucket, "--key", "api/doc.json")
    assert list_keys(s3, bucket) == []


def test_cli_with_env_endpoint_only(nimbus: NimbusServer, bucket: str, s3: Any) -> None:
    """`nimbus env` style: AWS_ENDPOINT_URL in the environment, no --endpoint-url flag."""
    s3.put_object(Bucket=bucket, Key="env.txt", Body=b"via env")
    proc = subprocess.run(
        [sys.executable, str(AWS), "s3", "ls", f"s3://{bucket}/"],
        env=nimbus.env(),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert "env.txt" in proc.stdout
