"""S3 buckets remember PutBucketAbac's status (whether their tags take part in authorization);
objects, their versions and multipart uploads the canned ACL they were written with.

Revision ID: 0020_iam_tags_acls
Revises: 0019_ecr
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0020_iam_tags_acls"
down_revision = "0019_ecr"
branch_labels = None
depends_on = None


_WITH_ACL = ("s3_objects", "s3_object_versions", "s3_multipart_uploads")


def upgrade() -> None:
    with op.batch_alter_table("s3_bucket_access") as table:
        table.add_column(sa.Column("abac", sa.String(8), nullable=True))
    for name in _WITH_ACL:
        with op.batch_alter_table(name) as table:
            table.add_column(sa.Column("acl", sa.String(32), nullable=True))


def downgrade() -> None:
    for name in _WITH_ACL:
        with op.batch_alter_table(name) as table:
            table.drop_column("acl")
    with op.batch_alter_table("s3_bucket_access") as table:
        table.drop_column("abac")
