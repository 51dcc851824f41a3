"""Every way a request can fail authentication, and access keys managed with `nimbus keys`."""

from __future__ import annotations

import datetime as dt
from typing import Any
from unittest import mock

import botocore.config
import pytest
import requests
from botocore import UNSIGNED
from botocore.exceptions import ClientError
from conftest import (
    NimbusServer,
    error_code,
    http_status,
    list_keys,
    nimbus_cli,
    parse_exports,
    signed_request,
    snapshot_files,
)

UNKNOWN_KEY = "AKIAZZZZZZZZZZZZZZZZ"


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def test_signed_request_works(nimbus: NimbusServer, bucket: str) -> None:
    """The raw signing helper itself is right: the same request, correctly signed, is accepted."""
    resp = signed_request(nimbus, "PUT", f"/{bucket}/raw.txt", body=b"raw body")
    assert resp.status == 200, resp.text
    assert resp.headers.get("x-amz-request-id")
    resp = signed_request(nimbus, "GET", f"/{bucket}/raw.txt")
    assert resp.status == 200 and resp.body == b"raw body"


def test_unknown_access_key(nimbus: NimbusServer, bucket: str) -> None:
    s3 = nimbus.client("s3", aws_access_key_id=UNKNOWN_KEY)
    with pytest.raises(ClientError) as exc:
        s3.list_buckets()
    assert error_code(exc) == "InvalidAccessKeyId"
    assert http_status(exc) == 403
    with pytest.raises(ClientError) as exc:
        s3.put_object(Bucket=bucket, Key="nope", Body=b"x")
    assert error_code(exc) == "InvalidAccessKeyId"
    assert list_keys(nimbus.client("s3"), bucket) == []


def test_wrong_secret(nimbus: NimbusServer, bucket: str) -> None:
    s3 = nimbus.client("s3", aws_secret_access_key=nimbus.secret_key[:-4] + "XXXX")
    with pytest.raises(ClientError) as exc:
        s3.put_object(Bucket=bucket, Key="nope", Body=b"x")
    assert error_code(exc) == "SignatureDoesNotMatch"
    assert http_status(exc) == 403
    assert list_keys(nimbus.client("s3"), bucket) == []
    assert snapshot_files(nimbus.s3_root() / bucket) == {}


def test_tampered_body_is_refused(nimbus: NimbusServer, bucket: str) -> None:
    """The payload hash is signed: a different body under the same signature is refused."""
    from botocore.auth import S3SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials
    from conftest import raw_request

    request = AWSRequest(method="PUT", url=f"{nimbus.endpoint_url}/{bucket}/t.txt", data=b"original")
    S3SigV4Auth(Credentials(nimbus.access_key, nimbus.secret_key), "s3", nimbus.region).add_auth(request)
    resp = raw_request(
        nimbus, "PUT", f"/{bucket}/t.txt", headers=dict(request.headers.items()), body=b"tampered"
    )
    assert resp.status in (400, 403), resp.text
    assert resp.error_code() in ("XAmzContentSHA256Mismatch", "SignatureDoesNotMatch", "BadDigest")
    assert list_keys(nimbus.client("s3"), bucket) == []


def test_expired_presigned_url_v4(nimbus: NimbusServer, s3: Any, bucket: str) -> None:
    from botocore.auth import S3SigV4QueryAuth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    s3.put_object(Bucket=bucket, Key="old.txt", Body=b"x")

    def presign(when: dt.datetime) -> str:
        # botocore's own (Python) SigV4 query signer at a fixed time; boto3 may sign with awscrt instead
        request = AWSRequest(method="GET", url=f"{nimbus.endpoint_url}/{bucket}/old.txt")
        signer = S3SigV4QueryAuth(Credentials(nimbus.access_key, nimbus.secret_key), "s3", nimbus.region, 60)
        with mock.patch("botocore.auth.get_current_datetime", return_value=when):
            signer.add_auth(request)
        return str(request.url)

    fresh = presign(utcnow())
    assert requests.get(fresh, timeout=30).content == b"x"  # the same URL, signed now, works
    expired = presign(utcnow() - dt.timedelta(hours=2))
    assert "X-Amz-Expires=60" in expired
    resp = requests.get(expired, timeout=30)
    assert resp.status_code == 403
    assert "<Code>AccessDenied</Code>" in resp.text


def test_expired_presigned_url_v2(nimbus: NimbusServer, s3: Any, bucket: str) -> None:
    s3.put_object(Bucket=bucket, Key="old.txt", Body=b"x")
    url = nimbus.client("s3").generate_presigned_url(
        "get_object", Params={"Bucket": bucket, "Key": "old.txt"}, ExpiresIn=-60
    )
    assert "Signature=" in url
    resp = requests.get(url, timeout=30)
    assert resp.status_code == 403
    assert "<Code>AccessDenied</Code>" in resp.text


@pytest.mark.parametrize("skew", [dt.timedelta(minutes=-20), dt.timedelta(minutes=20)])
def test_clock_skew_over_15_minutes(nimbus: NimbusServer, bucket: str, skew: dt.timedelta) -> None:
    resp = signed_request(nimbus, "PUT", f"/{bucket}/skewed.txt", body=b"late", when=utcnow() + skew)
    assert resp.status == 403, resp.text
    assert resp.error_code() == "RequestTimeTooSkewed"
    assert list_keys(nimbus.client("s3"), bucket) == []


def test_small_clock_skew_is_accepted(nimbus: NimbusServer, bucket: str) -> None:
    resp = signed_request(
        nimbus, "PUT", f"/{bucket}/ok.txt", body=b"ok", when=utcnow() - dt.timedelta(minutes=5)
    )
    assert resp.status == 200, resp.text
    assert list_keys(nimbus.client("s3"), bucket) == ["ok.txt"]


def test_unsigned_requests_are_refused(nimbus: NimbusServer, bucket: str) -> None:
    resp = requests.get(f"{nimbus.endpoint_url}/{bucket}", timeout=30)
    assert resp.status_code == 403
    assert "<Code>AccessDenied</Code>" in resp.text
    assert resp.headers.get("x-amz-request-id")

    resp = requests.put(f"{nimbus.endpoint_url}/{bucket}/anon.txt", data=b"anonymous", timeout=30)
    assert resp.status_code == 403
    assert "<Code>AccessDenied</Code>" in resp.text

    anon = nimbus.client("s3", config=botocore.config.Config(signature_version=UNSIGNED))
    with pytest.raises(ClientError) as exc:
        anon.list_objects_v2(Bucket=bucket)
    assert error_code(exc) == "AccessDenied"
    assert http_status(exc) == 403
    with pytest.raises(ClientError) as exc:
        anon.list_buckets()
    assert error_code(exc) == "AccessDenied"

    assert list_keys(nimbus.client("s3"), bucket) == []
    assert snapshot_files(nimbus.s3_root() / bucket) == {}


def test_health_is_unsigned(nimbus: NimbusServer) -> None:
    resp = requests.get(f"{nimbus.endpoint_url}/_nimbus/health", timeout=30)
    assert resp.status_code == 200
    assert isinstance(resp.json(), dict)


def test_sts_with_bad_credentials(nimbus: NimbusServer) -> None:
    with pytest.raises(ClientError) as exc:
        nimbus.client("sts", aws_access_key_id=UNKNOWN_KEY).get_caller_identity()
    assert error_code(exc) == "InvalidClientTokenId"
    assert http_status(exc) == 403
    with pytest.raises(ClientError) as exc:
        nimbus.client("sts", aws_secret_access_key="wrong" * 8).get_caller_identity()
    assert error_code(exc) == "SignatureDoesNotMatch"
    assert http_status(exc) == 403
    assert exc.value.response["ResponseMetadata"]["HTTPHeaders"].get("x-amzn-requestid")


def test_keys_create_list_delete(nimbus: NimbusServer, bucket: str) -> None:
    s3_policy = "arn:aws:iam::aws:policy/AmazonS3FullAccess"  # a new IAM user may do nothing without one
    created = nimbus_cli("keys", "create", "alice", "--policy", s3_policy, "--data-dir", str(nimbus.data_dir))
    values = parse_exports(created.stdout)
    akid, secret = values.get("AWS_ACCESS_KEY_ID"), values.get("AWS_SECRET_ACCESS_KEY")
    assert akid and secret, created.stdout
    assert akid != nimbus.access_key

    listed = nimbus_cli("keys", "list", "--data-dir", str(nimbus.data_dir)).stdout
    assert akid in listed and nimbus.access_key in listed
    assert secret not in listed and nimbus.secret_key not in listed

    alice = nimbus.client("s3", aws_access_key_id=akid, aws_secret_access_key=secret)
    alice.put_object(Bucket=bucket, Key="by-alice.txt", Body=b"hi")
    assert alice.get_object(Bucket=bucket, Key="by-alice.txt")["Body"].read() == b"hi"
    identity = nimbus.client(
        "sts", aws_access_key_id=akid, aws_secret_access_key=secret
    ).get_caller_identity()
    assert identity["Arn"] == f"arn:aws:iam::{nimbus.account_id}:user/alice"
    assert identity["Account"] == nimbus.account_id

    nimbus_cli("keys", "delete", akid, "--data-dir", str(nimbus.data_dir))
    assert akid not in nimbus_cli("keys", "list", "--data-dir", str(nimbus.data_dir)).stdout
    with pytest.raises(ClientError) as exc:
        alice.get_object(Bucket=bucket, Key="by-alice.txt")
    assert error_code(exc) == "InvalidAccessKeyId"
    assert http_status(exc) == 403
    with pytest.raises(ClientError) as exc:
        nimbus.client("sts", aws_access_key_id=akid, aws_secret_access_key=secret).get_caller_identity()
    assert error_code(exc) == "InvalidClientTokenId"

    # deleting it again, or deleting the root key, is refused
    again = nimbus_cli("keys", "delete", akid, "--data-dir", str(nimbus.data_dir), check=False)
    assert again.returncode != 0
    root = nimbus_cli("keys", "delete", nimbus.access_key, "--data-dir", str(nimbus.data_dir), check=False)
    assert root.returncode != 0
    assert nimbus.client("s3").get_object(Bucket=bucket, Key="by-alice.txt")["Body"].read() == b"hi"


def test_credentials_survive_restart(nimbus: NimbusServer, restart_server: Any, bucket: str) -> None:
    s3 = nimbus.client("s3")
    s3.put_object(Bucket=bucket, Key="persist.txt", Body=b"still here")
    key_before = nimbus.access_key
    restart_server()
    assert nimbus.access_key == key_before
    s3 = nimbus.client("s3")
    assert s3.get_object(Bucket=bucket, Key="persist.txt")["Body"].read() == b"still here"
    creds = nimbus.data_dir / "credentials.json"
    assert creds.stat().st_mode & 0o777 == 0o600
