"""The lifecycle sweeper: applies every bucket's enabled lifecycle rules as of a moment. What it removes
goes through DeleteObject and AbortMultipartUpload themselves (a current version that expires in a
versioned bucket gets a delete marker, exactly as a client's DeleteObject would give it).

A background thread sweeps every ``NIMBUS_S3_LIFECYCLE_INTERVAL`` seconds (default 3600), on one node
of several: the one holding the sweep's lease.
``POST /_nimbus/s3/lifecycle-sweep`` (signed) runs one sweep at once, as of now or of a later ``now``:
tests and users drive the clock with it to see what rules do, without waiting days.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime
from itertools import groupby, pairwise
from typing import Any

from sqlalchemy import select, union_all

from nimbus.config import Settings
from nimbus.errors import AwsError
from nimbus.services.leases import lease_node
from nimbus.services.registry import Caller, RequestContext
from nimbus.services.s3 import s3
from nimbus.services.s3.lifecycle import after_days, enabled_rules, expiry, rule_scope
from nimbus.services.s3.multipart import abort_multipart_upload
from nimbus.services.s3.objects import delete_object
from nimbus.services.s3.versions import OBJECTS, VERSIONS, version_rows
from nimbus.storage import Storage
from nimbus.storage.schema import BucketRecord, UploadRecord

log = logging.getLogger("nimbus.s3.lifecycle")
_one_sweep_at_a_time = threading.Lock()
SWEEP_LEASE = "s3/lifecycle-sweep"


def sweep(storage: Storage, now: datetime, account_id: str | None = None) -> dict[str, int]:
    """Applies the rules of every bucket (of ``account_id``'s buckets, if given) as of ``now``; returns
    how many versions, delete markers and uploads each kind of action removed."""
    query = select(BucketRecord).where(BucketRecord.lifecycle_rules.is_not(None))
    if account_id is not None:
        query = query.where(BucketRecord.owner_account_id == account_id)
    with storage.database.session() as session:
        buckets = session.scalars(query).all()
    counts: Counter[str] = Counter()
    with _one_sweep_at_a_time:
        for bucket in buckets:
            owner = bucket.owner_account_id
            caller = Caller("", owner, owner, f"arn:aws:iam::{owner}:root")
            ctx = RequestContext(uuid.uuid4().hex, bucket.region, caller, storage, now)
            for rule in enabled_rules(bucket.lifecycle_rules):
                _apply(ctx, bucket.name, rule, now, counts)
    return {name: count for name, count in counts.items() if count}


def _apply(
    ctx: RequestContext, bucket: str, rule: dict[str, Any], now: datetime, counts: Counter[str]
) -> None:
    expiration = rule.get("Expiration") or {}
    if "Days" in expiration or "Date" in expiration:
        counts["expired"] += _expire_current(ctx, bucket, rule, now)
    if "NoncurrentVersionExpiration" in rule:
        counts["noncurrent_expired"] += _expire_noncurrent(ctx, bucket, rule, now)
    if expiration.get("ExpiredObjectDeleteMarker"):
        counts["delete_markers_removed"] += _remove_lone_markers(ctx, bucket, rule)
    if "AbortIncompleteMultipartUpload" in rule:
        counts["uploads_aborted"] += _abort_uploads(ctx, bucket, rule, now)


def _delete(ctx: RequestContext, request: dict[str, Any]) -> int:
    """DeleteObject; 0 when the version changed meanwhile (its If-Match no longer holds)."""
    try:
        delete_object(ctx, request)
    except AwsError as error:
        if error.code not in ("PreconditionFailed", "NoSuchKey"):
            raise
        return 0
    return 1


def _expire_current(ctx: RequestContext, bucket: str, rule: dict[str, Any], now: datetime) -> int:
    scope = rule_scope(rule)
    query = select(OBJECTS.c.key, OBJECTS.c.etag, OBJECTS.c.tags, OBJECTS.c.size, OBJECTS.c.last_modified)
    query = query.where(OBJECTS.c.bucket == bucket, OBJECTS.c.key.startswith(scope.prefix, autoescape=True))
    with ctx.storage.database.engine.connect() as connection:
        expired = [
            row
            for row in connection.execute(query)
            if scope.applies(row.key, row.tags, row.size) and _due(expiry(rule, row.last_modified), now)
        ]
    return sum(_delete(ctx, {"Bucket": bucket, "Key": row.key, "IfMatch": row.etag}) for row in expired)


def _due(when: datetime | None, now: datetime) -> bool:
    return when is not None and when <= now


def _versions_by_key(ctx: RequestContext, bucket: str, prefix: str) -> Iterator[tuple[str, list[Any]]]:
    """Each key under ``prefix`` with all its versions, newest first (the current one, if any, first)."""
    union = union_all(
        *(
            version_rows(table).where(
                table.c.bucket == bucket, table.c.key.startswith(prefix, autoescape=True)
            )
            for table in (OBJECTS, VERSIONS)
        )
    ).subquery()
    query = select(union).order_by(union.c.key, union.c.sequence.desc())
    with ctx.storage.database.engine.connect() as connection:
        rows = connection.execute(query).all()
    for key, versions in groupby(rows, key=lambda row: row.key):
        yield key, list(versions)


def _expire_noncurrent(ctx: RequestContext, bucket: str, rule: dict[str, Any], now: datetime) -> int:
    """Older versions expire NoncurrentDays after the next newer version replaced them, except the
    NewerNoncurrentVersions newest of them."""
    settings = rule["NoncurrentVersionExpiration"]
    days, kept = settings.get("NoncurrentDays"), settings.get("NewerNoncurrentVersions", 0)
    scope = rule_scope(rule)
    removed = 0
    for key, versions in _versions_by_key(ctx, bucket, scope.prefix):
        older = 0
        for newer, version in pairwise(versions):
            if version.is_delete_marker or not scope.applies(key, version.tags, version.size):
                continue
            older += 1
            if older > kept and (days is None or after_days(newer.last_modified, days) <= now):
                removed += _delete(ctx, {"Bucket": bucket, "Key": key, "VersionId": version.version_id})
    return removed


def _remove_lone_markers(ctx: RequestContext, bucket: str, rule: dict[str, Any]) -> int:
    """A delete marker that is a key's only version hides nothing: it goes."""
    removed = 0
    for key, versions in _versions_by_key(ctx, bucket, rule_scope(rule).prefix):
        if len(versions) == 1 and versions[0].is_delete_marker:
            removed += _delete(ctx, {"Bucket": bucket, "Key": key, "VersionId": versions[0].version_id})
    return removed


def _abort_uploads(ctx: RequestContext, bucket: str, rule: dict[str, Any], now: datetime) -> int:
    days = rule["AbortIncompleteMultipartUpload"]["DaysAfterInitiation"]
    query = select(UploadRecord).where(
        UploadRecord.bucket == bucket, UploadRecord.key.startswith(rule_scope(rule).prefix, autoescape=True)
    )
    with ctx.storage.database.session() as session:
        uploads = [upload for upload in session.scalars(query) if after_days(upload.initiated, days) <= now]
    aborted = 0
    for upload in uploads:
        try:
            abort_multipart_upload(ctx, {"Bucket": bucket, "Key": upload.key, "UploadId": upload.upload_id})
        except AwsError as error:  # completed or aborted meanwhile
            if error.code != "NoSuchUpload":
                raise
            continue
        aborted += 1
    return aborted


def _sweep_forever(storage: Storage, interval: float) -> None:
    """With several nodes, one sweeps: the holder of the sweep's lease (renewed by its heartbeat; it
    goes to another node's sweeper when that node dies)."""
    node = lease_node(storage)
    while True:
        time.sleep(interval)
        try:
            if node.take(SWEEP_LEASE):
                sweep(storage, datetime.now(UTC))
        except Exception:  # the next sweep tries again; a failed one must not end the thread
            log.exception("lifecycle sweep failed")


@s3.on_startup
def start_sweeper(storage: Storage) -> None:
    interval = Settings().s3_lifecycle_interval
    threading.Thread(
        target=_sweep_forever, args=(storage, interval), name="s3-lifecycle", daemon=True
    ).start()
