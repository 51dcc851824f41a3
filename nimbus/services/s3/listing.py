"""Object listings: ListObjectsV2 and ListObjects (v1) of the current versions, and ListObjectVersions
of every version and delete marker, key by key, newest first."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import cache
from typing import Any

from sqlalchemy import bindparam, select, union_all

from nimbus.errors import AwsError
from nimbus.services.registry import RequestContext
from nimbus.services.s3 import s3
from nimbus.services.s3.owners import owner
from nimbus.services.s3.paging import (
    Page,
    batch_sizes,
    check_max,
    decode_token,
    encode_token,
    list_page,
    url_encoder,
)
from nimbus.services.s3.records import require_bucket
from nimbus.services.s3.versions import OBJECTS, VERSIONS, check_version_id, version_rows
from nimbus.storage.schema import ObjectRow


def _object_page(ctx: RequestContext, request: dict[str, Any], after: str, limit: int) -> Page[ObjectRow]:
    bucket = request["Bucket"]
    require_bucket(ctx, bucket)

    def rows_from(start: str) -> Iterator[tuple[str, ObjectRow]]:
        # seek in batches: a page never loads more than it needs, however large the bucket
        condition = OBJECTS.c.key >= start
        with ctx.storage.database.engine.connect() as connection:
            for batch_size in batch_sizes(limit, request.get("Delimiter", "")):
                query = select(OBJECTS).where(OBJECTS.c.bucket == bucket, condition)
                batch = connection.execute(query.order_by(OBJECTS.c.key).limit(batch_size)).all()
                yield from ((record.key, record) for record in batch if record.key > after)
                if len(batch) < batch_size:
                    return
                condition = OBJECTS.c.key > batch[-1].key

    return _request_page(request, rows_from, after, limit)


def _request_page(
    request: dict[str, Any], rows_from: Callable[[str], Iterator[tuple[str, Any]]], after: str, limit: int
) -> Page[Any]:
    """A page of ``rows_from`` with the request's Prefix and Delimiter."""
    prefix, delimiter = request.get("Prefix", ""), request.get("Delimiter", "")
    return list_page(rows_from, prefix=prefix, delimiter=delimiter, after=after, limit=limit)


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
    if request.get("Delimiter"):  # an empty delimiter is no delimiter, and S3 does not echo it
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
    # as S3 (and botocore, which decodes the rest): ListObjects v1 never encodes the Prefix it echoes
    output.update(MaxKeys=limit, Marker=encode(marker), Prefix=request.get("Prefix", ""))
    if page.items:
        output["Contents"] = [{**_entry(record, encode), "Owner": owner(ctx)} for record in page.items]
    # as AWS: NextMarker only with a delimiter (without one, clients use the last key)
    if page.truncated and request.get("Delimiter") and page.last_key is not None:
        output["NextMarker"] = encode(page.last_key)
    return output


@dataclass(frozen=True)
class _Version:
    row: Any  # a version's listing columns (OBJECTS or VERSIONS)
    is_latest: bool


# sequences are non-negative 64-bit integers: a position "before every version of a key"
_BEFORE_ALL = 2**63 - 1


@cache
def _versions_after() -> Any:
    """A batch of versions after a position (``key``, ``below``) in listing order (key ascending, newest
    first): later keys, and ``key``'s versions older than sequence ``below``; ``size`` of them. Made once
    and bound per batch: building the statement costs more than running it.

    Each table is limited in its own index order, so a batch sorts at most ``size`` rows of each, not every
    version after the position. The range ``key >= ...`` stands on its own, so that the index seeks to it:
    SQLite reads a bucket from its first key for an OR of the two cases."""

    def batch_of(table: Any) -> Any:
        key = bindparam("key")
        after = (table.c.key >= key) & ((table.c.key > key) | (table.c.sequence < bindparam("below")))
        ordered = version_rows(table).where(table.c.bucket == bindparam("bucket"), after)
        return select(
            ordered.order_by(table.c.key, table.c.sequence.desc()).limit(bindparam("size")).subquery()
        )

    union = union_all(batch_of(OBJECTS), batch_of(VERSIONS)).subquery()
    return select(union).order_by(union.c.key, union.c.sequence.desc()).limit(bindparam("size"))


def _version_page(
    ctx: RequestContext, request: dict[str, Any], key_marker: str, marker_sequence: int | None, limit: int
) -> Page[_Version]:
    bucket = request["Bucket"]

    def rows_from(start: str) -> Iterator[tuple[str, _Version]]:
        key, below = start, _BEFORE_ALL
        previous = None  # the key of the last version seen: the first version of each key is its latest
        if key_marker and start == key_marker:
            below = -1 if marker_sequence is None else marker_sequence
            previous = key_marker
        with ctx.storage.database.engine.connect() as connection:
            for batch_size in batch_sizes(limit, request.get("Delimiter", "")):
                position = {"bucket": bucket, "key": key, "below": below, "size": batch_size}
                batch = connection.execute(_versions_after(), position).all()
                for row in batch:
                    yield row.key, _Version(row, row.key != previous)
                    previous = row.key
                if len(batch) < batch_size:
                    return
                key, below = batch[-1].key, batch[-1].sequence

    return _request_page(request, rows_from, key_marker, limit)


def _marker_sequence(ctx: RequestContext, request: dict[str, Any]) -> int | None:
    """Where VersionIdMarker says the listing stopped: the sequence of that version of KeyMarker
    (None when it is gone: the listing goes on after the key)."""
    version_id = request.get("VersionIdMarker")
    if version_id is None:
        return None
    if not request.get("KeyMarker"):
        raise AwsError("InvalidArgument", "A version-id marker cannot be specified without a key marker.")
    check_version_id(version_id)
    found = None
    with ctx.storage.database.engine.connect() as connection:
        for table in (OBJECTS, VERSIONS):
            where = (
                table.c.bucket == request["Bucket"],
                table.c.key == request["KeyMarker"],
                table.c.version_id == version_id,
            )
            found = connection.scalar(select(table.c.sequence).where(*where))
            if found is not None:
                break
    return found


@s3.operation
def list_object_versions(ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
    """The XML holds the page's versions, then its delete markers (each in S3's order: key, then newest
    first), where AWS interleaves both in one order; SDKs read them into two lists either way."""
    encode = url_encoder(request.get("EncodingType"))
    limit = check_max("max-keys", request.get("MaxKeys", 1000))
    require_bucket(ctx, request["Bucket"])
    key_marker = request.get("KeyMarker", "")
    page = _version_page(ctx, request, key_marker, _marker_sequence(ctx, request), limit)
    output = _listing(request, page, encode)
    output.update(MaxKeys=limit, KeyMarker=encode(key_marker))
    if "VersionIdMarker" in request:
        output["VersionIdMarker"] = request["VersionIdMarker"]
    versions, markers = [], []
    for item in page.items:
        row = item.row
        entry = {
            "Key": encode(row.key),
            "VersionId": row.version_id,
            "IsLatest": item.is_latest,
            "LastModified": row.last_modified,
            "Owner": owner(ctx),
        }
        if row.is_delete_marker:
            markers.append(entry)
        else:
            versions.append({**_entry(row, encode), **entry})
    if versions:
        output["Versions"] = versions
    if markers:
        output["DeleteMarkers"] = markers
    if page.truncated and page.last_key is not None:
        output["NextKeyMarker"] = encode(page.last_key)
        if page.last_item is not None and page.last_key == page.last_item.row.key:
            output["NextVersionIdMarker"] = page.last_item.row.version_id
    return output
