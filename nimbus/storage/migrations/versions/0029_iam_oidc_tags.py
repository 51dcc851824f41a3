"""IAM OpenID Connect providers (their client ids, thumbprints and tags); whether a bucket policy
was put with ConfirmRemoveSelfBucketAccess.

Revision ID: 0029_iam_oidc_tags
Revises: 0028_resource_tags
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0029_iam_oidc_tags"
down_revision = "0028_resource_tags"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "iam_oidc_providers",
        sa.Column("account_id", sa.String(64), primary_key=True),
        sa.Column("name_key", sa.String(255), primary_key=True),
        sa.Column("url", sa.String(255), nullable=False),
        sa.Column("client_ids", sa.JSON, nullable=False),
        sa.Column("thumbprints", sa.JSON, nullable=False),
        sa.Column("tags", sa.JSON, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.add_column("s3_bucket_access", sa.Column("removes_owner_access", sa.Boolean(), nullable=True))


def downgrade() -> None:
    op.drop_column("s3_bucket_access", "removes_owner_access")
    op.drop_table("iam_oidc_providers")
