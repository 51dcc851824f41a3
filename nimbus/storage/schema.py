"""The metadata tables, as SQLAlchemy models. Every change here ships with an Alembic migration."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    Dialect,
    ForeignKey,
    Index,
    Integer,
    Row,
    String,
    false,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

# S3 lists keys in UTF-8 byte order: SQLite's default BINARY collation does that, PostgreSQL needs "C"
ObjectKey = String(1024).with_variant(String(1024, collation="C"), "postgresql")


class UtcDateTime(TypeDecorator[datetime]):
    """Timestamps that always come back timezone-aware in UTC (SQLite stores them naive)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        utc = value.astimezone(UTC)
        return utc if dialect.name == "postgresql" else utc.replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    type_annotation_map = {datetime: UtcDateTime, dict[str, Any]: JSON, list[Any]: JSON}


class BucketRecord(Base):
    __tablename__ = "s3_buckets"

    name: Mapped[str] = mapped_column(String(63), primary_key=True)
    owner_account_id: Mapped[str] = mapped_column(String(64))
    region: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[datetime]
    versioning: Mapped[str | None] = mapped_column(String(16))  # None (never enabled), Enabled, Suspended
    cors_rules: Mapped[list[Any] | None] = mapped_column(JSON)
    lifecycle_rules: Mapped[list[Any] | None] = mapped_column(JSON)
    tags: Mapped[dict[str, Any] | None] = mapped_column(JSON)


class ContentAttributes:
    """What a write sets besides the bytes: shared by objects and the uploads that become them."""

    content_type: Mapped[str] = mapped_column(String(256))
    content_encoding: Mapped[str | None] = mapped_column(String(256))
    content_disposition: Mapped[str | None] = mapped_column(String(1024))
    content_language: Mapped[str | None] = mapped_column(String(256))
    cache_control: Mapped[str | None] = mapped_column(String(1024))
    expires: Mapped[datetime | None]
    user_metadata: Mapped[dict[str, Any]] = mapped_column(JSON)
    tags: Mapped[dict[str, Any]] = mapped_column(JSON)
    storage_class: Mapped[str] = mapped_column(String(32))
    # SSE-C: {"salt", "key_hmac"} to recognise the customer's key, and for objects "nonces" (one a part)
    sse_customer: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    # the canned ACL given when it was written, where the bucket allows ACLs (None: the owner's alone)
    acl: Mapped[str | None] = mapped_column(String(32))


class StoredVersion(ContentAttributes):
    """One version of an object: its bytes (the plain file at the key's path, or the blob named here)
    and what S3 says about them. ``sequence`` orders a key's versions, newest highest."""

    bucket: Mapped[str] = mapped_column(String(63), ForeignKey("s3_buckets.name"), primary_key=True)
    key: Mapped[str] = mapped_column(ObjectKey, primary_key=True)
    size: Mapped[int] = mapped_column(BigInteger)
    etag: Mapped[str] = mapped_column(String(64))
    last_modified: Mapped[datetime]
    checksums: Mapped[dict[str, Any]] = mapped_column(JSON)  # algorithm -> base64 value
    part_sizes: Mapped[list[Any] | None] = mapped_column(JSON)  # set for multipart objects
    checksum_type: Mapped[str | None] = mapped_column(String(16))  # COMPOSITE or FULL_OBJECT, with checksums
    part_checksums: Mapped[list[Any] | None] = mapped_column(JSON)  # a multipart object's, part by part
    upload_id: Mapped[str | None] = mapped_column(String(64))  # the multipart upload that completed it
    version_id: Mapped[str] = mapped_column(String(64), server_default="null")
    sequence: Mapped[int] = mapped_column(BigInteger, server_default="0")
    blob: Mapped[str | None] = mapped_column(String(32))


class ObjectRecord(StoredVersion, Base):
    """The current version of each key (whose newest version is not a delete marker)."""

    __tablename__ = "s3_objects"


class VersionRecord(StoredVersion, Base):
    """Older versions, and delete markers (a key whose newest version is a marker has no object row)."""

    __tablename__ = "s3_object_versions"
    __table_args__ = (Index("ix_s3_object_versions_order", "bucket", "key", "sequence"),)

    version_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    is_delete_marker: Mapped[bool] = mapped_column(Boolean, server_default=false())


class UploadRecord(ContentAttributes, Base):
    __tablename__ = "s3_multipart_uploads"
    __table_args__ = (Index("ix_s3_multipart_uploads_bucket_key", "bucket", "key", "upload_id"),)

    upload_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    bucket: Mapped[str] = mapped_column(String(63), ForeignKey("s3_buckets.name"))
    key: Mapped[str] = mapped_column(ObjectKey)
    initiated: Mapped[datetime]
    initiator_arn: Mapped[str] = mapped_column(String(256))
    checksum_algorithm: Mapped[str | None] = mapped_column(String(16))
    checksum_type: Mapped[str | None] = mapped_column(String(16))


class PartRecord(Base):
    __tablename__ = "s3_multipart_parts"

    upload_id: Mapped[str] = mapped_column(
        String(64), ForeignKey("s3_multipart_uploads.upload_id", ondelete="CASCADE"), primary_key=True
    )
    part_number: Mapped[int] = mapped_column(Integer, primary_key=True)
    size: Mapped[int] = mapped_column(BigInteger)
    etag: Mapped[str] = mapped_column(String(64))
    last_modified: Mapped[datetime]
    checksums: Mapped[dict[str, Any]] = mapped_column(JSON)
    sse_nonce: Mapped[str | None] = mapped_column(String(32))  # SSE-C: the part's initial counter, base64


# an s3_objects row read with SQLAlchemy Core (the hot paths skip the ORM): attributes named as columns
ObjectRow = Row[Any]
