"""Object rows and files together: the reads and writes every object operation shares.

These are the hot paths, so they use SQLAlchemy Core on a pooled connection (an ORM session costs
several times more per request); rows come back as ``ObjectRow``.

A write runs the row's upsert first (taking the database's write lock), then moves the staged file
into place, then commits; if either step fails nothing changes. Bucket existence is the bucket's
folder (one stat, no query); the foreign key from objects to buckets closes the race with DeleteBucket.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import bindparam, delete, select
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError

from nimbus.errors import AwsError
from nimbus.services.registry import RequestContext
from nimbus.services.s3.checksums import UploadDigests
from nimbus.services.s3.conditions import etag_matches, precondition_failed
from nimbus.services.s3.keys import check_key_for_write, no_such_bucket, no_such_key, storage_errors
from nimbus.storage.objects import StagedFile, folder_keys
from nimbus.storage.schema import ObjectRecord, ObjectRow
from nimbus.storage.streams import BodyStream

OBJECTS = ObjectRecord.__table__
OBJECT_KEY = ("bucket", "key")
_FIND = select(OBJECTS).where(OBJECTS.c.bucket == bindparam("bucket"), OBJECTS.c.key == bindparam("key"))


def require_bucket(ctx: RequestContext, bucket: str) -> None:
    if not ctx.storage.objects.has_bucket(bucket):
        raise no_such_bucket(bucket)


def find_object(ctx: RequestContext, bucket: str, key: str) -> ObjectRow:
    """The object's row, or NoSuchBucket / NoSuchKey."""
    with ctx.storage.database.engine.connect() as connection:
        record = connection.execute(_FIND, {"bucket": bucket, "key": key}).first()
    if record is None:
        require_bucket(ctx, bucket)
        raise no_such_key(key)
    return record


def write_object(
    ctx: RequestContext,
    connection: Connection,
    staged: StagedFile,
    row: Mapping[str, Any],
    conditions: Mapping[str, Any],
) -> None:
    """Upserts the row (``bucket``, ``key`` and every column) and publishes the staged bytes as its
    file, inside the caller's transaction (``engine.begin()``), which commits."""
    bucket, key = row["bucket"], row["key"]
    check_write_conditions(connection, bucket, key, conditions)
    try:
        connection.execute(ctx.storage.database.upsert(OBJECTS, row, OBJECT_KEY), dict(row))
    except IntegrityError as error:  # the bucket was deleted while the bytes streamed in
        raise no_such_bucket(bucket) from error
    with storage_errors(key):
        ctx.storage.objects.publish(staged, bucket, key)


def check_write_conditions(connection: Connection, bucket: str, key: str, request: Mapping[str, Any]) -> None:
    """Conditional writes: If-None-Match "*" (only if absent) and If-Match (only that version)."""
    if "IfMatch" not in request and "IfNoneMatch" not in request:
        return
    etag = connection.scalar(select(OBJECTS.c.etag).where(*_identity(bucket, key)))
    if "IfNoneMatch" in request and etag is not None:
        raise precondition_failed("If-None-Match")
    if "IfMatch" in request:
        if etag is None:
            raise no_such_key(key)
        if not etag_matches(request["IfMatch"], etag):
            raise precondition_failed("If-Match")


def remove_object(ctx: RequestContext, bucket: str, key: str) -> None:
    """Deletes the row and the file (idempotent: a missing key is already gone). A key that could
    never be stored (``..``, empty segments) is refused, as for writes, rather than quietly 204'd."""
    check_key_for_write(key)
    with ctx.storage.database.engine.begin() as connection:
        deleted = connection.execute(delete(OBJECTS).where(*_identity(bucket, key)))
        if not deleted.rowcount:
            return
        parents = folder_keys(key)
        in_parents = (OBJECTS.c.bucket == bucket) & OBJECTS.c.key.in_(parents)
        kept = set(connection.scalars(select(OBJECTS.c.key).where(in_parents))) if parents else set()
        ctx.storage.objects.delete(bucket, key, keep_folders=kept)


def check_version_id(version_id: str | None) -> None:
    """Buckets are unversioned: every object is version "null"."""
    if version_id is not None and version_id != "null":
        raise AwsError(
            "InvalidArgument", "Invalid version id specified", 400, fields={"VersionId": version_id}
        )


def _identity(bucket: str, key: str) -> tuple[Any, Any]:
    return OBJECTS.c.bucket == bucket, OBJECTS.c.key == key


def save_object(
    ctx: RequestContext,
    bucket: str,
    key: str,
    body: BodyStream,
    digests: UploadDigests,
    attributes: Mapping[str, Any],
    request: Mapping[str, Any],
) -> dict[str, Any]:
    """Streams ``body`` in, verifies the request's digests, then writes row and file; returns the row."""
    with ctx.storage.objects.staged(body, digests.hashers) as staged:
        row = {
            **attributes,
            "bucket": bucket,
            "key": key,
            "size": staged.size,
            "etag": digests.etag,
            "checksums": digests.verified(request, staged),
            "last_modified": datetime.now(UTC),
            "part_sizes": None,
        }
        with ctx.storage.database.engine.begin() as connection:
            write_object(ctx, connection, staged, row, request)
    return row
