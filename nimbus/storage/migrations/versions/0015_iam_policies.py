"""IAM users, groups, managed and inline policies, attachments, instance profiles; S3 bucket access
settings (bucket policy, Block Public Access, object ownership, canned ACL).

Revision ID: 0015_iam_policies
Revises: 0014_s3_checksums
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0015_iam_policies"
down_revision = "0014_s3_checksums"
branch_labels = None
depends_on = None

WHEN = sa.DateTime(timezone=True)


def _key(name: str, length: int = 128) -> sa.Column[str]:
    return sa.Column(name, sa.String(length), primary_key=True)


def upgrade() -> None:
    op.create_table(
        "iam_users",
        _key("account_id", 64),
        _key("name_key", 64),
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("user_id", sa.String(32), nullable=False, unique=True),
        sa.Column("path", sa.String(512), nullable=False),
        sa.Column("permissions_boundary", sa.String(2048), nullable=True),
        sa.Column("tags", sa.JSON, nullable=False),
        sa.Column("created_at", WHEN, nullable=False),
    )
    op.create_table(
        "iam_groups",
        _key("account_id", 64),
        _key("name_key"),
        sa.Column("name", sa.String(128), nullable=False),
        sa.Column("group_id", sa.String(32), nullable=False, unique=True),
        sa.Column("path", sa.String(512), nullable=False),
        sa.Column("created_at", WHEN, nullable=False),
    )
    op.create_table("iam_group_members", _key("account_id", 64), _key("group_key"), _key("user_key", 64))
    op.create_table(
        "iam_managed_policies",
        _key("account_id", 64),
        _key("name_key"),
        sa.Column("name", sa.String(128), nullable=False),
        sa.Column("policy_id", sa.String(32), nullable=False, unique=True),
        sa.Column("path", sa.String(512), nullable=False),
        sa.Column("description", sa.String(1000), nullable=True),
        sa.Column("default_version", sa.String(16), nullable=False),
        sa.Column("next_version", sa.Integer, nullable=False),
        sa.Column("tags", sa.JSON, nullable=False),
        sa.Column("created_at", WHEN, nullable=False),
        sa.Column("updated_at", WHEN, nullable=False),
    )
    op.create_table(
        "iam_policy_versions",
        _key("account_id", 64),
        _key("policy_key"),
        _key("version_id", 16),
        sa.Column("document", sa.Text, nullable=False),
        sa.Column("created_at", WHEN, nullable=False),
    )
    op.create_table(
        "iam_attachments",
        _key("account_id", 64),
        _key("holder_kind", 8),
        _key("holder_key"),
        _key("policy_arn", 2048),
    )
    op.create_table(
        "iam_inline_policies",
        _key("account_id", 64),
        _key("holder_kind", 8),
        _key("holder_key"),
        _key("name_key"),
        sa.Column("name", sa.String(128), nullable=False),
        sa.Column("document", sa.Text, nullable=False),
    )
    op.create_table(
        "iam_instance_profiles",
        _key("account_id", 64),
        _key("name_key"),
        sa.Column("name", sa.String(128), nullable=False),
        sa.Column("profile_id", sa.String(32), nullable=False, unique=True),
        sa.Column("path", sa.String(512), nullable=False),
        sa.Column("role_key", sa.String(64), nullable=True),
        sa.Column("tags", sa.JSON, nullable=False),
        sa.Column("created_at", WHEN, nullable=False),
    )
    op.create_table(
        "s3_bucket_access",
        sa.Column(
            "bucket", sa.String(63), sa.ForeignKey("s3_buckets.name", ondelete="CASCADE"), primary_key=True
        ),
        sa.Column("policy", sa.Text, nullable=True),
        sa.Column("block_public_acls", sa.Boolean, nullable=True),
        sa.Column("ignore_public_acls", sa.Boolean, nullable=True),
        sa.Column("block_public_policy", sa.Boolean, nullable=True),
        sa.Column("restrict_public_buckets", sa.Boolean, nullable=True),
        sa.Column("object_ownership", sa.String(32), nullable=True),
        sa.Column("acl", sa.String(32), nullable=True),
    )


def downgrade() -> None:
    for table in (
        "s3_bucket_access",
        "iam_instance_profiles",
        "iam_inline_policies",
        "iam_attachments",
        "iam_policy_versions",
        "iam_managed_policies",
        "iam_group_members",
        "iam_groups",
        "iam_users",
    ):
        op.drop_table(table)
