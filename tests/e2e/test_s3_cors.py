"""CORS through boto3 and a browser's requests: the bucket's rules, the unsigned preflight, and the
Access-Control-* headers of S3's answers (so a page on another origin can use presigned URLs)."""

from __future__ import annotations

from typing import Any

import pytest
import requests
from botocore.exceptions import ClientError
from conftest import NimbusServer, error_code, http_status

RULES = [
    {
        "ID": "uploads",
        "AllowedOrigins": ["https://*.example.com"],
        "AllowedMethods": ["PUT", "POST"],
        "AllowedHeaders": ["content-*", "x-amz-meta-*"],
        "ExposeHeaders": ["ETag", "x-amz-request-id"],
        "MaxAgeSeconds": 600,
    },
    {"AllowedOrigins": ["*"], "AllowedMethods": ["GET", "HEAD"]},
]
VARY = "Origin, Access-Control-Request-Headers, Access-Control-Request-Method"


def preflight(nimbus: NimbusServer, path: str, **headers: str) -> requests.Response:
    return requests.options(nimbus.endpoint_url + path, headers=headers, timeout=30)


def test_cors_configuration_round_trip(nimbus: NimbusServer, s3: Any, bucket: str) -> None:
    with pytest.raises(ClientError) as exc:
        s3.get_bucket_cors(Bucket=bucket)
    assert (error_code(exc), http_status(exc)) == ("NoSuchCORSConfiguration", 404)
    s3.put_bucket_cors(Bucket=bucket, CORSConfiguration={"CORSRules": RULES})
    assert s3.get_bucket_cors(Bucket=bucket)["CORSRules"] == RULES
    for bad, code in (
        ({"AllowedOrigins": ["*"], "AllowedMethods": ["PATCH"]}, "InvalidRequest"),
        ({"AllowedOrigins": ["https://*.*.com"], "AllowedMethods": ["GET"]}, "InvalidRequest"),
    ):
        with pytest.raises(ClientError) as exc:
            s3.put_bucket_cors(Bucket=bucket, CORSConfiguration={"CORSRules": [bad]})
        assert (error_code(exc), http_status(exc)) == (code, 400)
    assert s3.get_bucket_cors(Bucket=bucket)["CORSRules"] == RULES  # the bad ones changed nothing
    assert s3.delete_bucket_cors(Bucket=bucket)["ResponseMetadata"]["HTTPStatusCode"] == 204
    with pytest.raises(ClientError) as exc:
        s3.get_bucket_cors(Bucket=bucket)
    assert error_code(exc) == "NoSuchCORSConfiguration"
    assert (
        preflight(
            nimbus, f"/{bucket}/k", Origin="https://a.example.com", **{"Access-Control-Request-Method": "PUT"}
        ).status_code
        == 403
    )


def test_preflight_and_answers_follow_the_first_matching_rule(
    nimbus: NimbusServer, s3: Any, bucket: str
) -> None:
    s3.put_bucket_cors(Bucket=bucket, CORSConfiguration={"CORSRules": RULES})
    path = f"/{bucket}/photos/cat.jpg"
    allowed = preflight(
        nimbus,
        path,
        Origin="https://app.example.com",
        **{
            "Access-Control-Request-Method": "PUT",
            "Access-Control-Request-Headers": "Content-Type, X-Amz-Meta-Owner",
        },
    )
    assert allowed.status_code == 200
    assert allowed.headers["Access-Control-Allow-Origin"] == "https://app.example.com"
    assert allowed.headers["Access-Control-Allow-Methods"] == "PUT, POST"
    assert allowed.headers["Access-Control-Allow-Headers"] == "content-type, x-amz-meta-owner"
    assert allowed.headers["Access-Control-Max-Age"] == "600"
    assert allowed.headers["Access-Control-Allow-Credentials"] == "true"
    assert allowed.headers["Vary"] == VARY
    # a header no rule allows, an origin the wildcard does not cover: refused
    for origin, method, asked in (
        ("https://app.example.com", "PUT", "Authorization"),
        ("https://example.com.evil.org", "PUT", ""),
        ("https://app.example.com", "DELETE", ""),
    ):
        refused = preflight(
            nimbus,
            path,
            Origin=origin,
            **{"Access-Control-Request-Method": method, "Access-Control-Request-Headers": asked},
        )
        assert refused.status_code == 403 and "Access-Control-Allow-Origin" not in refused.headers
    # GET falls through to the second rule, whose origin is "*"
    anyone = preflight(
        nimbus, path, Origin="http://localhost:3000", **{"Access-Control-Request-Method": "GET"}
    )
    assert anyone.headers["Access-Control-Allow-Origin"] == "*"
    assert "Access-Control-Allow-Credentials" not in anyone.headers
    assert preflight(nimbus, path).status_code == 400  # no Origin
    assert preflight(nimbus, path, Origin="https://app.example.com").status_code == 400  # no method

    # a browser on app.example.com uploads with a presigned URL, then reads the object back
    url = s3.generate_presigned_url("put_object", Params={"Bucket": bucket, "Key": "photos/cat.jpg"})
    put = requests.put(url, data=b"meow", headers={"Origin": "https://app.example.com"}, timeout=30)
    assert put.status_code == 200
    assert put.headers["Access-Control-Allow-Origin"] == "https://app.example.com"
    assert put.headers["Access-Control-Expose-Headers"] == "ETag, x-amz-request-id"
    url = s3.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": "photos/cat.jpg"})
    got = requests.get(url, headers={"Origin": "https://app.example.com"}, timeout=30)
    assert got.content == b"meow" and got.headers["Access-Control-Allow-Origin"] == "*"
    # errors carry the headers too, so the page can read them; no Origin, no headers
    missing = s3.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": "nope"})
    answer = requests.get(missing, headers={"Origin": "https://app.example.com"}, timeout=30)
    assert answer.status_code == 404 and answer.headers["Access-Control-Allow-Origin"] == "*"
    assert "Access-Control-Allow-Origin" not in requests.get(url, timeout=30).headers
