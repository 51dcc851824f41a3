"""SageMaker batch transform jobs.

Revision ID: 0007_sagemaker_transform
Revises: 0006_sagemaker_hosting
Create Date: 2025-01-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007_sagemaker_transform"
down_revision = "0006_sagemaker_hosting"
branch_labels = None
depends_on = None

WHEN = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "sagemaker_transform_jobs",
        sa.Column("account_id", sa.String(64), primary_key=True),
        sa.Column("region", sa.String(32), primary_key=True),
        sa.Column("name", sa.String(63), primary_key=True),
        sa.Column("caller_arn", sa.String(256), nullable=False),
        sa.Column("request", sa.JSON, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("failure_reason", sa.String(1024)),
        sa.Column("created_at", WHEN, nullable=False),
        sa.Column("last_modified", WHEN, nullable=False),
        sa.Column("transform_start", WHEN),
        sa.Column("transform_end", WHEN),
    )
    op.create_index("ix_sagemaker_transform_jobs_status", "sagemaker_transform_jobs", ["status"])


def downgrade() -> None:
    op.drop_index("ix_sagemaker_transform_jobs_status", "sagemaker_transform_jobs")
    op.drop_table("sagemaker_transform_jobs")
