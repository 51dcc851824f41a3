"""The metadata tables, as SQLAlchemy models. Every change here ships with an Alembic migration."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, DateTime, Dialect, ForeignKey, Index, Integer, Row, String
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


class ObjectRecord(ContentAttributes, Base):
    __tablename__ = "s3_objects"

    bucket: Mapped[str] = mapped_column(String(63), ForeignKey("s3_buckets.name"), primary_key=True)
    key: Mapped[str] = mapped_column(ObjectKey, primary_key=True)
    size: Mapped[int] = mapped_column(BigInteger)
    etag: Mapped[str] = mapped_column(String(64))
    last_modified: Mapped[datetime]
    checksums: Mapped[dict[str, Any]] = mapped_column(JSON)  # algorithm -> base64 value
    part_sizes: Mapped[list[Any] | None] = mapped_column(JSON)  # set for multipart objects


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


# an s3_objects row read with SQLAlchemy Core (the hot paths skip the ORM): attributes named as columns
ObjectRow = Row[Any]
