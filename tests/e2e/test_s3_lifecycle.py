"""Lifecycle rules through boto3: the configuration, x-amz-expiration, and the sweeper, whose clock the
tests drive with ``POST /_nimbus/s3/lifecycle-sweep?now=...`` instead of waiting days."""

from __future__ import annotations

import datetime as dt
import json
import re
from typing import Any
from urllib.parse import quote

import pytest
from botocore.exceptions import ClientError
from conftest import NimbusServer, error_code, http_status, list_keys, signed_request

DAY = dt.timedelta(days=1)


def sweep(nimbus: NimbusServer, when: dt.datetime) -> dict[str, Any]:
    answer = signed_request(nimbus, "POST", f"/_nimbus/s3/lifecycle-sweep?now={quote(when.isoformat())}")
    assert answer.status == 200, answer.text
    return dict(json.loads(answer.body))


def expiry_of(response: dict[str, Any]) -> tuple[dt.datetime, str]:
    header = response["ResponseMetadata"]["HTTPHeaders"]["x-amz-expiration"]
    match = re.fullmatch(r'expiry-date="(.+)", rule-id="(.+)"', header)
    assert match is not None, header
    when = dt.datetime.strptime(match.group(1), "%a, %d %b %Y %H:%M:%S GMT").replace(tzinfo=dt.UTC)
    return when, match.group(2)


def test_configuration_round_trip_and_bad_rules(s3: Any, bucket: str) -> None:
    with pytest.raises(ClientError) as exc:
        s3.get_bucket_lifecycle_configuration(Bucket=bucket)
    assert (error_code(exc), http_status(exc)) == ("NoSuchLifecycleConfiguration", 404)
    rules = [
        {"ID": "logs", "Filter": {"Prefix": "logs/"}, "Status": "Enabled", "Expiration": {"Days": 30}},
        {
            "Prefix": "tmp/",
            "Status": "Disabled",
            "Expiration": {"Date": dt.datetime(2030, 1, 1, tzinfo=dt.UTC)},
        },
    ]
    s3.put_bucket_lifecycle_configuration(Bucket=bucket, LifecycleConfiguration={"Rules": rules})
    stored = s3.get_bucket_lifecycle_configuration(Bucket=bucket)["Rules"]
    assert stored[0] == rules[0] and stored[1]["Expiration"]["Date"] == rules[1]["Expiration"]["Date"]
    assert stored[1]["ID"]  # S3 names a rule that came without an ID
    expire = {"Status": "Enabled", "Filter": {}, "Expiration": {"Days": 1}}
    bad = [
        ({**expire, "Expiration": {"Days": 0}}, "InvalidArgument", 400),
        ({**expire, "ID": "x" * 256}, "InvalidArgument", 400),
        ({**expire, "Status": "enabled"}, "MalformedXML", 400),
        (
            {**expire, "Expiration": {"Date": dt.datetime(2030, 1, 1, 12, tzinfo=dt.UTC)}},
            "InvalidArgument",
            400,
        ),
        ({"Status": "Enabled", "Filter": {}}, "InvalidRequest", 400),
        ({**expire, "Transitions": [{"Days": 30, "StorageClass": "GLACIER"}]}, "NotImplemented", 501),
    ]
    for rule, code, status in bad:
        with pytest.raises(ClientError) as exc:
            s3.put_bucket_lifecycle_configuration(Bucket=bucket, LifecycleConfiguration={"Rules": [rule]})
        assert (error_code(exc), http_status(exc)) == (code, status), rule
    twice = [{**expire, "ID": "same"}, {**expire, "ID": "same"}]
    with pytest.raises(ClientError) as exc:
        s3.put_bucket_lifecycle_configuration(Bucket=bucket, LifecycleConfiguration={"Rules": twice})
    assert error_code(exc) == "InvalidArgument"
    assert s3.get_bucket_lifecycle_configuration(Bucket=bucket)["Rules"] == stored  # nothing changed
    assert s3.delete_bucket_lifecycle(Bucket=bucket)["ResponseMetadata"]["HTTPStatusCode"] == 204
    with pytest.raises(ClientError) as exc:
        s3.get_bucket_lifecycle_configuration(Bucket=bucket)
    assert error_code(exc) == "NoSuchLifecycleConfiguration"


def test_expiration_by_prefix_tags_and_size(nimbus: NimbusServer, s3: Any, bucket: str) -> None:
    rule = {
        "ID": "old-logs",
        "Status": "Enabled",
        "Filter": {
            "And": {
                "Prefix": "logs/",
                "Tags": [{"Key": "keep", "Value": "no"}],
                "ObjectSizeLessThan": 100,
            }
        },
        "Expiration": {"Days": 2},
    }
    s3.put_bucket_lifecycle_configuration(Bucket=bucket, LifecycleConfiguration={"Rules": [rule]})
    now = dt.datetime.now(dt.UTC)
    put = s3.put_object(Bucket=bucket, Key="logs/a", Body=b"small", Tagging="keep=no")
    s3.put_object(Bucket=bucket, Key="logs/big", Body=b"x" * 100, Tagging="keep=no")
    s3.put_object(Bucket=bucket, Key="logs/kept", Body=b"small", Tagging="keep=yes")
    s3.put_object(Bucket=bucket, Key="other/a", Body=b"small", Tagging="keep=no")
    when, rule_id = expiry_of(put)
    assert rule_id == "old-logs" and when.time() == dt.time(0)  # AWS rounds up to the next midnight
    assert now + 2 * DAY < when <= now + 3 * DAY
    assert expiry_of(s3.head_object(Bucket=bucket, Key="logs/a")) == (when, "old-logs")
    assert (
        "x-amz-expiration"
        not in s3.head_object(Bucket=bucket, Key="logs/big")["ResponseMetadata"]["HTTPHeaders"]
    )

    assert "expired" not in sweep(nimbus, now)
    assert sweep(nimbus, when)["expired"] == 1
    assert list_keys(s3, bucket) == ["logs/big", "logs/kept", "other/a"]
    assert not (nimbus.s3_root() / bucket / "logs" / "a").exists()


def test_versioned_bucket_markers_noncurrent_versions_and_uploads(
    nimbus: NimbusServer, s3: Any, bucket: str
) -> None:
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    rules = [
        {"ID": "current", "Status": "Enabled", "Filter": {"Prefix": "data/"}, "Expiration": {"Days": 1}},
        {
            "ID": "older",
            "Status": "Enabled",
            "Filter": {},
            "NoncurrentVersionExpiration": {"NoncurrentDays": 1, "NewerNoncurrentVersions": 1},
        },
        {
            "ID": "markers",
            "Status": "Enabled",
            "Filter": {},
            "Expiration": {"ExpiredObjectDeleteMarker": True},
        },
        {
            "ID": "uploads",
            "Status": "Enabled",
            "Filter": {},
            "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": 1},
        },
    ]
    s3.put_bucket_lifecycle_configuration(Bucket=bucket, LifecycleConfiguration={"Rules": rules})
    generations = [
        s3.put_object(Bucket=bucket, Key="data/f", Body=f"v{n}".encode())["VersionId"] for n in range(3)
    ]
    upload = s3.create_multipart_upload(Bucket=bucket, Key="big")
    assert upload["AbortRuleId"] == "uploads"
    now = dt.datetime.now(dt.UTC)

    # two days on: the current version expires behind a delete marker (as DeleteObject does it); of the
    # older versions, the newest is kept (NewerNoncurrentVersions) and the rest go; the upload is aborted
    counts = sweep(nimbus, now + 2 * DAY)
    assert counts == {
        "now": (now + 2 * DAY).isoformat(),
        "expired": 1,
        "noncurrent_expired": 2,
        "uploads_aborted": 1,
    }
    listed = s3.list_object_versions(Bucket=bucket)
    assert [v["VersionId"] for v in listed["Versions"]] == [generations[2]]
    assert [m["IsLatest"] for m in listed["DeleteMarkers"]] == [True]
    assert s3.list_multipart_uploads(Bucket=bucket).get("Uploads", []) == []
    assert sweep(nimbus, now + 2 * DAY) == {"now": (now + 2 * DAY).isoformat()}  # nothing more to do
    # once the last version is deleted, the marker hides nothing and goes too
    s3.delete_object(Bucket=bucket, Key="data/f", VersionId=generations[2])
    assert sweep(nimbus, now + 2 * DAY)["delete_markers_removed"] == 1
    assert "DeleteMarkers" not in s3.list_object_versions(Bucket=bucket)
