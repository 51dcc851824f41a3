"""Versions of a key (S3 versioning): version ids, the current version (its ``s3_objects`` row), the
older versions and delete markers (``s3_object_versions`` rows), and how a version moves between them.

The current version's bytes stay the plain file at the key's path wherever the path can hold them, so
objects are read in place whatever a bucket's versioning; an older version's bytes are a blob (see
the byte layer). Every change to a key runs under the key's lock (``Database.locked``), so what it
reads of the key stays true until it commits. Blobs that stop being needed are discarded after the
commit (a rollback keeps them); plain files are changed inside it, under the lock, so that a later
writer's file is never the one removed, and journalled first (the byte layer's ``begin_change``), so that
a failure or a crash before the commit puts the key's file back as its row says.
"""

from __future__ import annotations

import re
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, delete, func, insert, literal, select

from nimbus.errors import AwsError
from nimbus.services.registry import RequestContext
from nimbus.services.s3.keys import no_such_bucket
from nimbus.storage.objects import MissingFile, folder_keys
from nimbus.storage.schema import BucketRecord, ObjectRecord, ObjectRow, VersionRecord

ENABLED = "Enabled"
SUSPENDED = "Suspended"
NULL_VERSION = "null"
OBJECTS = ObjectRecord.__table__
VERSIONS = VersionRecord.__table__
BUCKETS = BucketRecord.__table__
_VERSION_ID = re.compile(r"[A-Za-z0-9_-]{32}")
# an object row's columns, in the order both tables select them (versions add is_delete_marker)
STORED_COLUMNS = tuple(column.name for column in OBJECTS.columns)


def new_version_id() -> str:
    return secrets.token_urlsafe(24)


def check_version_id(version_id: str | None) -> None:
    """InvalidArgument for an id Nimbus could never have issued."""
    if version_id is not None and version_id != NULL_VERSION and not _VERSION_ID.fullmatch(version_id):
        raise AwsError(
            "InvalidArgument", "Invalid version id specified", 400, fields={"VersionId": version_id}
        )


def no_such_version(key: str, version_id: str) -> AwsError:
    return AwsError(
        "NoSuchVersion",
        "The specified version does not exist.",
        404,
        fields={"Key": key, "VersionId": version_id},
    )


def delete_marker_headers(marker: Any) -> dict[str, str]:
    return {"x-amz-delete-marker": "true", "x-amz-version-id": marker.version_id}


def version_rows(table: Any) -> Any:
    """A select of ``table``'s stored columns, ``is_delete_marker`` and ``is_current`` (which table the
    row is in), so that rows of both tables read alike."""
    current = table is OBJECTS
    marker = literal(False).label("is_delete_marker") if current else VERSIONS.c.is_delete_marker
    columns = (table.c[name] for name in STORED_COLUMNS)
    return select(*columns, marker, literal(current).label("is_current"))


@dataclass
class KeyChange:
    """A change to one key inside its locked transaction: what it found, and the blobs to discard once
    the transaction has committed."""

    ctx: RequestContext
    connection: Connection
    bucket: str
    key: str
    versioning: str | None
    lifecycle_rules: list[Any] | None
    current: ObjectRow | None
    newest_sequence: int
    discarded_blobs: list[str] = field(default_factory=list)  # to discard once committed
    made_blobs: list[str] = field(default_factory=list)  # to discard if the change fails

    @property
    def next_sequence(self) -> int:
        return max(time.time_ns(), self.newest_sequence + 1)

    def version_id_for_new(self) -> str:
        return new_version_id() if self.versioning == ENABLED else NULL_VERSION

    def retire_current(self, *, keep_plain_file: bool) -> None:
        """The current version stops being current: kept as an older version when the bucket keeps
        versions (and it is not the null version a suspended bucket overwrites), otherwise dropped.
        ``keep_plain_file``: the plain file at the key is about to be replaced by a new version."""
        current = self.current
        if current is None:
            return
        kept = self.versioning == ENABLED or (
            self.versioning == SUSPENDED and current.version_id != NULL_VERSION
        )
        if not kept:
            self.drop_current(keep_plain_file=keep_plain_file)
            return
        blob = current.blob
        if blob is None:
            try:
                blob = self.ctx.storage.objects.keep_aside(self.bucket, self.key)
            except MissingFile:  # its file was removed behind S3's back (a Spark step): nothing to keep
                self.drop_current(keep_plain_file=keep_plain_file)
                return
            self.made_blobs.append(blob)
        values = {name: getattr(current, name) for name in STORED_COLUMNS}
        self.connection.execute(insert(VERSIONS), {**values, "blob": blob, "is_delete_marker": False})
        self._forget_current(keep_plain_file=keep_plain_file)

    def drop_current(self, *, keep_plain_file: bool) -> None:
        """The current version goes for good, bytes and all."""
        if self.current is not None and self.current.blob is not None:
            self.discarded_blobs.append(self.current.blob)
        self._forget_current(keep_plain_file=keep_plain_file)

    def _forget_current(self, *, keep_plain_file: bool) -> None:
        current = self.current
        if current is None:
            return
        self.connection.execute(delete(OBJECTS).where(*_identity(OBJECTS, self.bucket, self.key)))
        if current.blob is None and not keep_plain_file:
            self.remove_plain_file()
        self.current = None

    def drop_older_null_version(self) -> None:
        """A suspended bucket's writes and deletes replace the key's null version, wherever it is."""
        where = (*_identity(VERSIONS, self.bucket, self.key), VERSIONS.c.version_id == NULL_VERSION)
        blob = self.connection.scalar(select(VERSIONS.c.blob).where(*where))
        self.connection.execute(delete(VERSIONS).where(*where))
        if blob is not None:
            self.discarded_blobs.append(blob)

    def remove_plain_file(self) -> None:
        """Removes the plain file at the key and the folders it leaves empty, except folder objects."""
        parents = folder_keys(self.key)
        kept: set[str] = set()
        if parents:
            in_parents = (
                (OBJECTS.c.bucket == self.bucket) & OBJECTS.c.key.in_(parents) & OBJECTS.c.blob.is_(None)
            )
            kept = set(self.connection.scalars(select(OBJECTS.c.key).where(in_parents)))
        self.ctx.storage.objects.delete(self.bucket, self.key, keep_folders=kept)

    def add_delete_marker(self, version_id: str) -> None:
        self.connection.execute(
            insert(VERSIONS),
            {
                "bucket": self.bucket,
                "key": self.key,
                "version_id": version_id,
                "is_delete_marker": True,
                "sequence": self.next_sequence,
                "size": 0,
                "etag": "",
                "last_modified": datetime.now(UTC),
                "checksums": {},
                "part_sizes": None,
                "blob": None,
                "sse_customer": None,
                "content_type": "",
                "user_metadata": {},
                "tags": {},
                "storage_class": "STANDARD",
            },
        )

    def promote_newest(self) -> None:
        """After the current version went away: the newest older version becomes current, unless it
        is a delete marker (then the key reads as deleted). Its bytes move back to the plain file."""
        newest = self.connection.execute(
            version_rows(VERSIONS)
            .where(*_identity(VERSIONS, self.bucket, self.key))
            .order_by(VERSIONS.c.sequence.desc())
            .limit(1)
        ).first()
        if newest is None or newest.is_delete_marker:
            return
        where = (*_identity(VERSIONS, self.bucket, self.key), VERSIONS.c.version_id == newest.version_id)
        self.connection.execute(delete(VERSIONS).where(*where))
        values = {name: getattr(newest, name) for name in STORED_COLUMNS}
        restorable = newest.blob is not None and newest.sse_customer is None
        if restorable and self.ctx.storage.objects.restore(self.bucket, self.key, newest.blob):
            values["blob"] = None
            self.discarded_blobs.append(newest.blob)
        self.connection.execute(insert(OBJECTS), values)


def change_key(ctx: RequestContext, bucket: str, key: str, change: Callable[[KeyChange], Any]) -> Any:
    """Runs ``change`` on the key under its lock and returns what it returns; NoSuchBucket if the
    bucket is gone. Blobs it discarded go once the change has committed; blobs it made go if it failed."""
    objects = ctx.storage.objects
    with ctx.storage.database.locked(f"s3/{bucket}/{key}") as connection:
        found = connection.execute(_key_state(bucket, key)).first()
        if found is None:
            raise no_such_bucket(bucket)
        current = connection.execute(version_rows(OBJECTS).where(*_identity(OBJECTS, bucket, key))).first()
        newest = max(found.older or 0, current.sequence if current is not None else 0)
        state = KeyChange(
            ctx, connection, bucket, key, found.versioning, found.lifecycle_rules, current, newest
        )
        journalled = objects.begin_change(bucket, key, current.sequence if current is not None else None)
        try:
            result = change(state)
        except BaseException:
            if journalled is not None:
                journalled.undo()
            for blob in state.made_blobs:
                objects.discard_blob(bucket, blob)
            raise
    if journalled is not None:
        journalled.end()
    for blob in state.discarded_blobs:
        objects.discard_blob(bucket, blob)
    return result


def _key_state(bucket: str, key: str) -> Any:
    """The bucket's versioning and lifecycle rules, and the highest sequence among the key's older
    versions."""
    older = select(func.max(VERSIONS.c.sequence)).where(*_identity(VERSIONS, bucket, key)).scalar_subquery()
    return select(BUCKETS.c.versioning, BUCKETS.c.lifecycle_rules, older.label("older")).where(
        BUCKETS.c.name == bucket
    )


def _identity(table: Any, bucket: str, key: str) -> tuple[Any, Any]:
    return table.c.bucket == bucket, table.c.key == key
