"""Object tags: PutObject's ``Tagging`` query string, and the Put/Get/DeleteObjectTagging operations."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any
from urllib.parse import parse_qsl

from sqlalchemy import update

from nimbus.errors import AwsError
from nimbus.services.registry import RequestContext
from nimbus.services.s3 import s3
from nimbus.services.s3.keys import no_such_key
from nimbus.services.s3.records import check_version_id, find_object, require_bucket
from nimbus.storage.schema import ObjectRecord

MAX_TAGS = 10
MAX_TAG_KEY = 128
MAX_TAG_VALUE = 256


def invalid_tag(message: str) -> AwsError:
    return AwsError("InvalidTag", message, 400)


def checked_tags(pairs: Iterable[tuple[str, str]]) -> dict[str, str]:
    tags: dict[str, str] = {}
    for key, value in pairs:
        if key in tags:
            raise invalid_tag("Cannot provide multiple Tags with the same key")
        if not 1 <= len(key) <= MAX_TAG_KEY:
            raise invalid_tag(f"The TagKey you have provided is invalid (1 to {MAX_TAG_KEY} characters)")
        if len(value) > MAX_TAG_VALUE:
            raise invalid_tag(
                f"The TagValue you have provided is invalid (at most {MAX_TAG_VALUE} characters)"
            )
        tags[key] = value
    if len(tags) > MAX_TAGS:
        raise invalid_tag(f"Object tags cannot be greater than {MAX_TAGS}")
    return tags


def tags_from_query(tagging: str | None) -> dict[str, str]:
    """PutObject's x-amz-tagging header: URL-query-encoded "k=v&k2=v2"."""
    return checked_tags(parse_qsl(tagging or "", keep_blank_values=True))


def _tag_set(tagging: dict[str, Any]) -> dict[str, str]:
    return checked_tags((tag["Key"], tag.get("Value", "")) for tag in tagging.get("TagSet") or [])


def _set_tags(ctx: RequestContext, request: dict[str, Any], tags: dict[str, str]) -> None:
    bucket, key = request["Bucket"], request["Key"]
    check_version_id(request.get("VersionId"))
    statement = update(ObjectRecord).where(ObjectRecord.bucket == bucket, ObjectRecord.key == key)
    with ctx.storage.database.session() as session:
        changed = session.execute(statement.values(tags=tags)).rowcount  # type: ignore[attr-defined]
        session.commit()
    if not changed:
        require_bucket(ctx, bucket)
        raise no_such_key(key)


@s3.operation
def put_object_tagging(ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
    _set_tags(ctx, request, _tag_set(request.get("Tagging") or {}))
    return {"VersionId": "null"} if "VersionId" in request else {}


@s3.operation
def get_object_tagging(ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
    check_version_id(request.get("VersionId"))
    record = find_object(ctx, request["Bucket"], request["Key"])
    return {"TagSet": [{"Key": key, "Value": value} for key, value in record.tags.items()]}


@s3.operation
def delete_object_tagging(ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
    _set_tags(ctx, request, {})
    return {}
