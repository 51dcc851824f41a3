"""S3 versioning, bucket configuration (CORS, lifecycle, tags) and SSE-C: object versions and delete
markers, where each version's bytes lie (a blob instead of the plain file), customer-key fingerprints.

Revision ID: 0011_s3_versioning
Revises: 0010_rekognition_video
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011_s3_versioning"
down_revision = "0010_rekognition_video"
branch_labels = None
depends_on = None

BUCKET = sa.String(63)
KEY = sa.String(1024).with_variant(sa.String(1024, collation="C"), "postgresql")
WHEN = sa.DateTime(timezone=True)


def version_columns() -> list[sa.Column]:
    """Where a version's bytes lie and how it sorts among the key's versions."""
    return [
        sa.Column("sequence", sa.BigInteger, nullable=False, server_default="0"),
        sa.Column("blob", sa.String(32)),
        sa.Column("sse_customer", sa.JSON),
    ]


def upgrade() -> None:
    with op.batch_alter_table("s3_buckets") as table:
        table.add_column(sa.Column("versioning", sa.String(16)))
        table.add_column(sa.Column("cors_rules", sa.JSON))
        table.add_column(sa.Column("lifecycle_rules", sa.JSON))
        table.add_column(sa.Column("tags", sa.JSON))
    with op.batch_alter_table("s3_objects") as table:
        table.add_column(sa.Column("version_id", sa.String(64), nullable=False, server_default="null"))
        for column in version_columns():
            table.add_column(column)
    with op.batch_alter_table("s3_multipart_uploads") as table:
        table.add_column(sa.Column("sse_customer", sa.JSON))
    with op.batch_alter_table("s3_multipart_parts") as table:
        table.add_column(sa.Column("sse_nonce", sa.String(32)))
    op.create_table(
        "s3_object_versions",
        sa.Column("bucket", BUCKET, sa.ForeignKey("s3_buckets.name"), primary_key=True),
        sa.Column("key", KEY, primary_key=True),
        sa.Column("version_id", sa.String(64), primary_key=True),
        sa.Column("is_delete_marker", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("size", sa.BigInteger, nullable=False),
        sa.Column("etag", sa.String(64), nullable=False),
        sa.Column("last_modified", WHEN, nullable=False),
        sa.Column("checksums", sa.JSON, nullable=False),
        sa.Column("part_sizes", sa.JSON),
        *version_columns(),
        sa.Column("content_type", sa.String(256), nullable=False),
        sa.Column("content_encoding", sa.String(256)),
        sa.Column("content_disposition", sa.String(1024)),
        sa.Column("content_language", sa.String(256)),
        sa.Column("cache_control", sa.String(1024)),
        sa.Column("expires", WHEN),
        sa.Column("user_metadata", sa.JSON, nullable=False),
        sa.Column("tags", sa.JSON, nullable=False),
        sa.Column("storage_class", sa.String(32), nullable=False),
    )
    op.create_index("ix_s3_object_versions_order", "s3_object_versions", ["bucket", "key", "sequence"])


def downgrade() -> None:
    op.drop_index("ix_s3_object_versions_order", "s3_object_versions")
    op.drop_table("s3_object_versions")
    with op.batch_alter_table("s3_multipart_parts") as table:
        table.drop_column("sse_nonce")
    with op.batch_alter_table("s3_multipart_uploads") as table:
        table.drop_column("sse_customer")
    with op.batch_alter_table("s3_objects") as table:
        for name in ("sse_customer", "blob", "sequence", "version_id"):
            table.drop_column(name)
    with op.batch_alter_table("s3_buckets") as table:
        for name in ("tags", "lifecycle_rules", "cors_rules", "versioning"):
            table.drop_column(name)
