"""S3 buckets, objects, multipart uploads and their parts.

Revision ID: 0001_s3_objects
Revises:
Create Date: 2025-01-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001_s3_objects"
down_revision = None
branch_labels = None
depends_on = None

BUCKET = sa.String(63)
KEY = sa.String(1024).with_variant(sa.String(1024, collation="C"), "postgresql")
WHEN = sa.DateTime(timezone=True)


def content_columns() -> list[sa.Column]:
    return [
        sa.Column("content_type", sa.String(256), nullable=False),
        sa.Column("content_encoding", sa.String(256)),
        sa.Column("content_disposition", sa.String(1024)),
        sa.Column("content_language", sa.String(256)),
        sa.Column("cache_control", sa.String(1024)),
        sa.Column("expires", WHEN),
        sa.Column("user_metadata", sa.JSON, nullable=False),
        sa.Column("tags", sa.JSON, nullable=False),
        sa.Column("storage_class", sa.String(32), nullable=False),
    ]


def upgrade() -> None:
    op.create_table(
        "s3_buckets",
        sa.Column("name", BUCKET, primary_key=True),
        sa.Column("owner_account_id", sa.String(64), nullable=False),
        sa.Column("region", sa.String(32), nullable=False),
        sa.Column("created_at", WHEN, nullable=False),
    )
    op.create_table(
        "s3_objects",
        sa.Column("bucket", BUCKET, sa.ForeignKey("s3_buckets.name"), primary_key=True),
        sa.Column("key", KEY, primary_key=True),
        sa.Column("size", sa.BigInteger, nullable=False),
        sa.Column("etag", sa.String(64), nullable=False),
        sa.Column("last_modified", WHEN, nullable=False),
        sa.Column("checksums", sa.JSON, nullable=False),
        sa.Column("part_sizes", sa.JSON),
        *content_columns(),
    )
    op.create_table(
        "s3_multipart_uploads",
        sa.Column("upload_id", sa.String(64), primary_key=True),
        sa.Column("bucket", BUCKET, sa.ForeignKey("s3_buckets.name"), nullable=False),
        sa.Column("key", KEY, nullable=False),
        sa.Column("initiated", WHEN, nullable=False),
        sa.Column("initiator_arn", sa.String(256), nullable=False),
        sa.Column("checksum_algorithm", sa.String(16)),
        sa.Column("checksum_type", sa.String(16)),
        *content_columns(),
    )
    op.create_index(
        "ix_s3_multipart_uploads_bucket_key", "s3_multipart_uploads", ["bucket", "key", "upload_id"]
    )
    op.create_table(
        "s3_multipart_parts",
        sa.Column(
            "upload_id",
            sa.String(64),
            sa.ForeignKey("s3_multipart_uploads.upload_id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("part_number", sa.Integer, primary_key=True),
        sa.Column("size", sa.BigInteger, nullable=False),
        sa.Column("etag", sa.String(64), nullable=False),
        sa.Column("last_modified", WHEN, nullable=False),
        sa.Column("checksums", sa.JSON, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("s3_multipart_parts")
    op.drop_index("ix_s3_multipart_uploads_bucket_key", "s3_multipart_uploads")
    op.drop_table("s3_multipart_uploads")
    op.drop_table("s3_objects")
    op.drop_table("s3_buckets")
