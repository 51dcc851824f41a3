"""A pytest plugin bench/s3_conformance.py loads into s3-tests' policy run.

- The suite makes its IAM and STS clients, and the [iam root] user's S3 clients, with
  ``region_name=''``, which Ceph RGW accepts in a SigV4 credential scope and AWS (like Nimbus)
  refuses as a malformed credential (botocore's CRT signer refuses to sign it at all): those clients
  sign for us-east-1, as boto3 signs for AWS's global IAM endpoint.
- With ``S3TESTS_OPEN_BUCKETS=1`` (``--open-buckets``), each bucket the suite makes (through
  get_new_bucket or get_new_bucket_resource) has Block Public Access turned off by the main (root)
  user right after it is created, as RGW, which has no Block Public Access, leaves it; otherwise
  S3's default since April 2023 (on) refuses the suite's public bucket policies, as AWS does.

Nothing else in the suite changes.
"""

from __future__ import annotations

import os
from typing import Any

import boto3

GLOBAL_SERVICES = ("iam", "sts")
OPEN = {
    name: False
    for name in ("BlockPublicAcls", "IgnorePublicAcls", "BlockPublicPolicy", "RestrictPublicBuckets")
}
_client = boto3.client


def _client_with_region(*args: Any, **kwargs: Any) -> Any:
    service = kwargs.get("service_name", args[0] if args else None)
    if kwargs.get("region_name") == "" or (service in GLOBAL_SERVICES and not kwargs.get("region_name")):
        kwargs["region_name"] = "us-east-1"
    return _client(*args, **kwargs)


def pytest_configure(config: Any) -> None:
    boto3.client = _client_with_region
    if os.environ.get("S3TESTS_OPEN_BUCKETS") != "1":
        return
    import s3tests.functional as suite  # the test modules import get_new_bucket from it afterwards

    made, made_resource = suite.get_new_bucket, suite.get_new_bucket_resource

    def get_new_bucket(client: Any = None, name: str | None = None) -> str:
        return _opened(made(client, name))

    def get_new_bucket_resource(name: str | None = None) -> Any:
        bucket = made_resource(name)
        _opened(bucket.name)
        return bucket

    def _opened(bucket: str) -> str:
        suite.get_client().put_public_access_block(Bucket=bucket, PublicAccessBlockConfiguration=OPEN)
        return bucket

    suite.get_new_bucket, suite.get_new_bucket_resource = get_new_bucket, get_new_bucket_resource
