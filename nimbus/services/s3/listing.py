"""Object listings: ListObjectsV2, ListObjects (v1) and ListObjectVersions (every object is the
"null" version of an unversioned bucket)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from sqlalchemy import select

from nimbus.services.registry import RequestContext
from nimbus.services.s3 import s3
from nimbus.services.s3.owners import owner
from nimbus.services.s3.paging import Page, check_max, decode_token, encode_token, list_page, url_encoder
from nimbus.services.s3.records import OBJECTS, require_bucket
from nimbus.storage.schema import ObjectRow

NULL_VERSION = "null"


def _object_page(ctx: RequestContext, request: dict[str, Any], after: str, limit: int) -> Page[ObjectRow]:
    bucket = request["Bucket"]
    require_bucket(ctx, bucket)
    batch_size = limit + 1

    def rows_from(start: str) -> Iterator[tuple[str, ObjectRow]]:
        # seek in batches: a page never loads more than it needs, however large the bucket
        condition = OBJECTS.c.key >= start
        with ctx.storage.database.engine.connect() as connection:
            while True:
                query = select(OBJECTS).where(OBJECTS.c.bucket == bucket, condition)
                batch = connection.execute(query.order_by(OBJECTS.c.key).limit(batch_size)).all()
                yield from ((record.key, record) for record in batch if record.key > after)
                if len(batch) < batch_size:
                    return
                condition = OBJECTS.c.key > batch[-1].key

    return list_page(
        rows_from,
        prefix=request.get("Prefix", ""),
        delimiter=request.get("Delimiter", ""),
        after=after,
        limit=limit,
    )


def _entry(record: ObjectRow, encode: Callable[[str], str]) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "Key": encode(record.key),
        "LastModified": record.last_modified,
        "ETag": record.etag,
        "Size": record.size,
        "StorageClass": record.storage_class,
    }
    if record.checksums:
        entry["ChecksumAlgorithm"] = list(record.checksums)
    return entry


def _listing(request: dict[str, Any], page: Page[Any], encode: Callable[[str], str]) -> dict[str, Any]:
    """The members every listing shares: Name, Prefix, Delimiter, CommonPrefixes, EncodingType..."""
    output: dict[str, Any] = {
        "Name": request["Bucket"],
        "Prefix": encode(request.get("Prefix", "")),
        "IsTruncated": page.truncated,
    }
    if "Delimiter" in request:
        output["Delimiter"] = encode(request["Delimiter"])
    if page.common_prefixes:
        output["CommonPrefixes"] = [{"Prefix": encode(common)} for common in page.common_prefixes]
    if "EncodingType" in request:
        output["EncodingType"] = request["EncodingType"]
    return output


@s3.operation
def list_objects_v2(ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
    encode = url_encoder(request.get("EncodingType"))
    limit = check_max("max-keys", request.get("MaxKeys", 1000))
    after = request.get("StartAfter", "")
    if "ContinuationToken" in request:
        after = max(after, decode_token(request["ContinuationToken"]))
    page = _object_page(ctx, request, after, limit)
    contents = [_entry(record, encode) for record in page.items]
    if request.get("FetchOwner"):
        for entry in contents:
            entry["Owner"] = owner(ctx)
    output = _listing(request, page, encode)
    output.update(MaxKeys=limit, KeyCount=len(contents) + len(page.common_prefixes))
    if contents:
        output["Contents"] = contents
    if "ContinuationToken" in request:
        output["ContinuationToken"] = request["ContinuationToken"]
    if "StartAfter" in request:
        output["StartAfter"] = encode(request["StartAfter"])
    if page.truncated and page.last_key is not None:
        output["NextContinuationToken"] = encode_token(page.last_key)
    return output


@s3.operation
def list_objects(ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
    encode = url_encoder(request.get("EncodingType"))
    limit = check_max("max-keys", request.get("MaxKeys", 1000))
    marker = request.get("Marker", "")
    page = _object_page(ctx, request, marker, limit)
    output = _listing(request, page, encode)
    output.update(MaxKeys=limit, Marker=encode(marker))
    if page.items:
        output["Contents"] = [{**_entry(record, encode), "Owner": owner(ctx)} for record in page.items]
    # as AWS: NextMarker only with a delimiter (without one, clients use the last key)
    if page.truncated and "Delimiter" in request and page.last_key is not None:
        output["NextMarker"] = encode(page.last_key)
    return output


@s3.operation
def list_object_versions(ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
    """Buckets are unversioned: each object is listed once, as version `null`, and there are no
    delete markers."""
    encode = url_encoder(request.get("EncodingType"))
    limit = check_max("max-keys", request.get("MaxKeys", 1000))
    key_marker = request.get("KeyMarker", "")
    page = _object_page(ctx, request, key_marker, limit)
    output = _listing(request, page, encode)
    output.update(MaxKeys=limit, KeyMarker=encode(key_marker))
    if "VersionIdMarker" in request:
        output["VersionIdMarker"] = request["VersionIdMarker"]
    if page.items:
        output["Versions"] = [
            {**_entry(record, encode), "VersionId": NULL_VERSION, "IsLatest": True, "Owner": owner(ctx)}
            for record in page.items
        ]
    if page.truncated and page.last_key is not None:
        output["NextKeyMarker"] = encode(page.last_key)
        output["NextVersionIdMarker"] = NULL_VERSION
    return output
