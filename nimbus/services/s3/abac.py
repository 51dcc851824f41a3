"""Tags in authorization: PutBucketAbac/GetBucketAbac, and the condition keys a bucket or an object
brings to a request. As in S3, a bucket's tags decide access (``aws:ResourceTag/*``,
``s3:BucketTag/*``) only once ABAC is enabled on it; an object's tags are its
``s3:ExistingObjectTag/*`` always."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from nimbus.errors import AwsError
from nimbus.services.registry import RequestContext
from nimbus.services.resource_tags import tag_condition_keys
from nimbus.services.s3 import s3
from nimbus.services.s3.bucket_access import existing_access, read_access, write_access
from nimbus.services.s3.versions import OBJECTS
from nimbus.storage import Storage
from nimbus.storage.schema import BucketRecord

ENABLED = "Enabled"
_STATUSES = (ENABLED, "Disabled")
_ARN = "arn:aws:s3:::"


@s3.operation
def put_bucket_abac(ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
    """With ABAC enabled S3 takes a bucket's tags only through S3 Control's TagResource; Nimbus, which
    serves no S3 Control, keeps taking PutBucketTagging."""
    status = (request.get("AbacStatus") or {}).get("Status")
    if status not in _STATUSES:
        raise AwsError("MalformedXML", "AbacStatus must hold a Status of Enabled or Disabled.", 400)
    write_access(ctx, existing_access(ctx, request["Bucket"]), abac=status)
    return {}


@s3.operation
def get_bucket_abac(ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
    return {"AbacStatus": {"Status": existing_access(ctx, request["Bucket"]).abac or "Disabled"}}


def resource_tag_keys(storage: Storage, arn: str) -> dict[str, str]:
    """The tag condition keys of ``arn:aws:s3:::bucket`` or ``arn:aws:s3:::bucket/key`` (the current
    version's tags: a request for an older version is decided on the current one's)."""
    if not arn.startswith(_ARN):
        return {}
    bucket, _, key = arn[len(_ARN) :].partition("/")
    keys: dict[str, str] = {}
    access = read_access(storage, bucket)
    with storage.database.engine.connect() as connection:
        if access is not None and access.abac == ENABLED:
            tags = connection.scalar(select(BucketRecord.tags).where(BucketRecord.name == bucket)) or {}
            keys |= tag_condition_keys(tags) | tag_condition_keys(tags, "s3:buckettag/")
        if key:
            found = connection.scalar(
                select(OBJECTS.c.tags).where(OBJECTS.c.bucket == bucket, OBJECTS.c.key == key)
            )
            keys |= tag_condition_keys(found or {}, "s3:existingobjecttag/")
    return keys


s3.resource_tags(resource_tag_keys)
