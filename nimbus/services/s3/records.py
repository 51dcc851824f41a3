"""Object rows and files together: the reads and writes every object operation shares.

These are the hot paths, so they use SQLAlchemy Core on a pooled connection (an ORM session costs
several times more per request); rows come back as ``ObjectRow``, with the bucket's ``versioning`` and
``lifecycle_rules`` beside the object's columns.

A write stages the bytes first, then, under the key's lock, retires the current version (kept as an
older one when the bucket keeps versions), publishes the new bytes and records them; if any step fails
nothing changes. Bucket existence is the bucket's folder (one stat, no query); the foreign key from
objects to buckets closes the race with DeleteBucket.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, bindparam, delete, insert
from sqlalchemy.exc import IntegrityError

from nimbus.errors import AwsError
from nimbus.services.registry import RequestContext
from nimbus.services.s3.checksums import UploadDigests
from nimbus.services.s3.conditions import etag_matches, precondition_failed
from nimbus.services.s3.keys import check_key_for_write, no_such_bucket, no_such_key
from nimbus.services.s3.sse_c import CustomerKey, Sealed
from nimbus.services.s3.versions import (
    BUCKETS,
    NULL_VERSION,
    OBJECTS,
    SUSPENDED,
    VERSIONS,
    KeyChange,
    change_key,
    check_version_id,
    delete_marker_headers,
    no_such_version,
    version_rows,
)
from nimbus.storage.objects import StagedFile
from nimbus.storage.schema import ObjectRow
from nimbus.storage.streams import BodyStream

OBJECT_KEY = ("bucket", "key")


def _with_bucket(table: Any) -> Any:
    """Rows of ``table`` with the bucket's versioning and lifecycle rules, found by bucket and key."""
    return (
        version_rows(table)
        .add_columns(BUCKETS.c.versioning, BUCKETS.c.lifecycle_rules)
        .join_from(table, BUCKETS, BUCKETS.c.name == table.c.bucket)
        .where(table.c.bucket == bindparam("bucket"), table.c.key == bindparam("key"))
    )


_FIND_CURRENT = _with_bucket(OBJECTS)
_FIND_VERSION = _with_bucket(VERSIONS).where(VERSIONS.c.version_id == bindparam("version_id"))
_FIND_NEWEST = _with_bucket(VERSIONS).order_by(VERSIONS.c.sequence.desc()).limit(1)


def require_bucket(ctx: RequestContext, bucket: str) -> None:
    if not ctx.storage.objects.has_bucket(bucket):
        raise no_such_bucket(bucket)


def find_object(ctx: RequestContext, bucket: str, key: str, version_id: str | None = None) -> ObjectRow:
    """The version a request names (the current one without ``version_id``), as S3 finds it: NoSuchBucket,
    NoSuchKey (with x-amz-delete-marker when the newest version is a delete marker), NoSuchVersion, and
    405 MethodNotAllowed for a delete marker named by its id."""
    check_version_id(version_id)
    parameters = {"bucket": bucket, "key": key}
    with ctx.storage.database.engine.connect() as connection:
        record = connection.execute(_FIND_CURRENT, parameters).first()
        if record is not None and version_id in (None, record.version_id):
            return record
        if version_id is None:
            newest = connection.execute(_FIND_NEWEST, parameters).first()
        else:
            newest = connection.execute(_FIND_VERSION, {**parameters, "version_id": version_id}).first()
    if newest is None:
        require_bucket(ctx, bucket)
        raise no_such_key(key) if version_id is None else no_such_version(key, version_id)
    if not newest.is_delete_marker:
        return newest
    if version_id is None:
        raise AwsError(
            "NoSuchKey",
            "The specified key does not exist.",
            404,
            fields={"Key": key},
            headers=delete_marker_headers(newest),
        )
    raise AwsError(
        "MethodNotAllowed",
        "The specified method is not allowed against this resource.",
        405,
        fields={"ResourceType": "DeleteMarker"},
        headers={**delete_marker_headers(newest), "Allow": "DELETE"},
    )


def write_object(
    ctx: RequestContext,
    staged: StagedFile,
    row: Mapping[str, Any],
    conditions: Mapping[str, Any],
    before: Callable[[Connection], None] | None = None,
) -> dict[str, Any]:
    """Publishes the staged bytes as the new current version of the row's key (``bucket``, ``key`` and
    every column but the version's own) and returns the row as stored, with the bucket's ``versioning``
    and ``lifecycle_rules`` as ``find_object``'s rows have them. ``before`` runs first inside the same
    transaction (CompleteMultipartUpload removes its upload there)."""

    def change(state: KeyChange) -> dict[str, Any]:
        if before is not None:
            before(state.connection)
        check_write_conditions(state.current, state.key, conditions)
        stored = {**row, "version_id": state.version_id_for_new(), "sequence": state.next_sequence}
        was_plain_file = state.current is not None and state.current.blob is None
        state.retire_current(keep_plain_file=True)
        if state.versioning == SUSPENDED:
            state.drop_older_null_version()
        encrypted = stored.get("sse_customer") is not None
        stored["blob"] = ctx.storage.objects.publish(staged, state.bucket, state.key, aside=encrypted)
        if stored["blob"] is not None:
            state.made_blobs.append(stored["blob"])
            if was_plain_file:
                state.remove_plain_file()  # the older bytes are kept aside or dropped: not in place
        try:
            state.connection.execute(insert(OBJECTS), stored)
        except IntegrityError as error:  # the bucket was deleted while the bytes streamed in
            raise no_such_bucket(state.bucket) from error
        return {**stored, "versioning": state.versioning, "lifecycle_rules": state.lifecycle_rules}

    result: dict[str, Any] = change_key(ctx, row["bucket"], row["key"], change)
    return result


def check_write_conditions(current: ObjectRow | None, key: str, request: Mapping[str, Any]) -> None:
    """Conditional writes: If-None-Match fails when the key's current ETag matches (any does "*"),
    If-Match when it does not (NoSuchKey when the key is absent)."""
    if_none_match = request.get("IfNoneMatch")
    if if_none_match is not None and current is not None and etag_matches(if_none_match, current.etag):
        raise precondition_failed("If-None-Match")
    if "IfMatch" in request:
        if current is None:
            raise no_such_key(key)
        if not etag_matches(request["IfMatch"], current.etag):
            raise precondition_failed("If-Match")


def remove_object(
    ctx: RequestContext,
    bucket: str,
    key: str,
    version_id: str | None = None,
    conditions: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """DeleteObject's effect and output members. Without ``version_id``: an unversioned bucket deletes
    the object (a missing key is already gone), a versioned one adds a delete marker on top. With it:
    that version (or marker) goes for good, and the newest remaining one becomes current. The
    ``conditions`` (IfMatch, IfMatchLastModifiedTime, IfMatchSize) are checked on the version deleted."""
    check_key_for_write(key)
    check_version_id(version_id)
    checks = conditions or {}

    def add_delete_marker(state: KeyChange) -> dict[str, Any]:
        _check_delete_conditions(state.current, key, checks)
        state.retire_current(keep_plain_file=False)
        if state.versioning is None:
            return {}
        if state.versioning == SUSPENDED:
            state.drop_older_null_version()
        marker_id = NULL_VERSION if state.versioning == SUSPENDED else state.version_id_for_new()
        state.add_delete_marker(marker_id)
        return {"DeleteMarker": True, "VersionId": marker_id}

    def delete_version(state: KeyChange) -> dict[str, Any]:
        output: dict[str, Any] = {"VersionId": version_id}
        current = state.current
        if current is not None and current.version_id == version_id:
            _check_delete_conditions(current, key, checks)
            state.drop_current(keep_plain_file=False)
            state.promote_newest()
            return output
        where = (VERSIONS.c.bucket == bucket, VERSIONS.c.key == key, VERSIONS.c.version_id == version_id)
        found = state.connection.execute(version_rows(VERSIONS).where(*where)).first()
        _check_delete_conditions(found, key, checks)
        if found is None:
            return output
        state.connection.execute(delete(VERSIONS).where(*where))
        if found.blob is not None:
            state.discarded_blobs.append(found.blob)
        if current is None:
            state.promote_newest()  # the newest may have been this delete marker
        if found.is_delete_marker:
            output["DeleteMarker"] = True
        return output

    return change_key(ctx, bucket, key, add_delete_marker if version_id is None else delete_version)


def _check_delete_conditions(target: ObjectRow | None, key: str, request: Mapping[str, Any]) -> None:
    """A conditional delete goes ahead only if the version it deletes has that ETag, time and size."""
    if not any(name in request for name in ("IfMatch", "IfMatchLastModifiedTime", "IfMatchSize")):
        return
    if target is None:
        raise no_such_key(key)
    if "IfMatch" in request and not etag_matches(request["IfMatch"], target.etag):
        raise precondition_failed("If-Match")
    modified = request.get("IfMatchLastModifiedTime")
    if modified is not None and target.last_modified.replace(microsecond=0) != modified:
        raise precondition_failed("x-amz-if-match-last-modified-time")
    if "IfMatchSize" in request and target.size != request["IfMatchSize"]:
        raise precondition_failed("x-amz-if-match-size")


def save_object(
    ctx: RequestContext,
    bucket: str,
    key: str,
    body: BodyStream,
    digests: UploadDigests,
    attributes: Mapping[str, Any],
    request: Mapping[str, Any],
    customer: CustomerKey | None = None,
) -> dict[str, Any]:
    """Streams ``body`` in (encrypted with the ``customer`` key if given), verifies the request's
    digests, then writes row and file; returns the row as ``write_object`` does."""
    sealed = Sealed(body, customer, digests)
    with ctx.storage.objects.staged(sealed.stream, sealed.hashers) as staged:
        checksums = digests.verified(request, staged)
        row = {
            **attributes,
            "bucket": bucket,
            "key": key,
            "size": staged.size,
            "etag": sealed.etag,
            "checksums": checksums,
            "checksum_type": "FULL_OBJECT" if checksums else None,
            "last_modified": datetime.now(UTC),
            "part_sizes": None,
            "sse_customer": sealed.record(),
        }
        return write_object(ctx, staged, row, request)


def written_version(row: Mapping[str, Any]) -> dict[str, str]:
    """The VersionId a write answers with: none for the null version (unversioned or suspended)."""
    return {} if row["version_id"] == NULL_VERSION else {"VersionId": row["version_id"]}


def read_version(record: ObjectRow) -> dict[str, str]:
    """The VersionId a read answers with: any version of a bucket that has had versioning."""
    if record.version_id == NULL_VERSION and record.versioning is None:
        return {}
    return {"VersionId": record.version_id}
