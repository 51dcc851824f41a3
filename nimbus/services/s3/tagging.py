"""Tags: PutObject's ``Tagging`` query string, Put/Get/DeleteObjectTagging (of any version), and
Put/Get/DeleteBucketTagging."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any
from urllib.parse import parse_qsl

from sqlalchemy import update

from nimbus.errors import AwsError
from nimbus.services.registry import RequestContext
from nimbus.services.s3 import s3
from nimbus.services.s3.buckets import configured_setting, set_bucket_setting
from nimbus.services.s3.records import find_object, read_version
from nimbus.services.s3.versions import OBJECTS, VERSIONS

MAX_TAGS = 10
MAX_BUCKET_TAGS = 50
MAX_TAG_KEY = 128
MAX_TAG_VALUE = 256


def invalid_tag(message: str) -> AwsError:
    return AwsError("InvalidTag", message, 400)


def checked_tags(
    pairs: Iterable[tuple[str, str]], limit: int = MAX_TAGS, what: str = "Object"
) -> dict[str, str]:
    tags: dict[str, str] = {}
    for key, value in pairs:
        if key in tags:
            raise invalid_tag("Cannot provide multiple Tags with the same key")
        if key.startswith("aws:"):
            raise invalid_tag("Your TagKey cannot be prefixed with aws:")
        if not 1 <= len(key) <= MAX_TAG_KEY:
            raise invalid_tag(f"The TagKey you have provided is invalid (1 to {MAX_TAG_KEY} characters)")
        if len(value) > MAX_TAG_VALUE:
            raise invalid_tag(
                f"The TagValue you have provided is invalid (at most {MAX_TAG_VALUE} characters)"
            )
        tags[key] = value
    if len(tags) > limit:
        raise invalid_tag(f"{what} tags cannot be greater than {limit}")
    return tags


def tags_from_query(tagging: str | None) -> dict[str, str]:
    """PutObject's x-amz-tagging header: URL-query-encoded "k=v&k2=v2"."""
    return checked_tags(parse_qsl(tagging or "", keep_blank_values=True))


def _tag_set(tagging: dict[str, Any], limit: int = MAX_TAGS, what: str = "Object") -> dict[str, str]:
    pairs = ((tag["Key"], tag.get("Value", "")) for tag in tagging.get("TagSet") or [])
    return checked_tags(pairs, limit, what)


def _tag_list(tags: dict[str, str]) -> list[dict[str, str]]:
    """A TagSet as S3 answers it: sorted by key."""
    return [{"Key": key, "Value": tags[key]} for key in sorted(tags)]


def _set_tags(ctx: RequestContext, request: dict[str, Any], tags: dict[str, str]) -> dict[str, Any]:
    """Sets the tags of the version the request names (the current one by default); returns its
    VersionId member."""
    record = find_object(ctx, request["Bucket"], request["Key"], request.get("VersionId"))
    table = OBJECTS if record.is_current else VERSIONS
    statement = update(table).where(
        table.c.bucket == record.bucket, table.c.key == record.key, table.c.version_id == record.version_id
    )
    with ctx.storage.database.engine.begin() as connection:
        connection.execute(statement.values(tags=tags))
    return read_version(record)


@s3.operation
def put_object_tagging(ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
    return _set_tags(ctx, request, _tag_set(request.get("Tagging") or {}))


@s3.operation
def get_object_tagging(ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
    record = find_object(ctx, request["Bucket"], request["Key"], request.get("VersionId"))
    return {"TagSet": _tag_list(record.tags), **read_version(record)}


@s3.operation
def delete_object_tagging(ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
    return _set_tags(ctx, request, {})


@s3.operation
def put_bucket_tagging(ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
    tags = _tag_set(request.get("Tagging") or {}, MAX_BUCKET_TAGS, "Bucket")
    set_bucket_setting(ctx, request["Bucket"], "tags", tags)
    return {}


@s3.operation
def get_bucket_tagging(ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
    return {"TagSet": _tag_list(configured_setting(ctx, request["Bucket"], "tags", "NoSuchTagSet", "TagSet"))}


@s3.operation
def delete_bucket_tagging(ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
    set_bucket_setting(ctx, request["Bucket"], "tags", None)
    return {}
