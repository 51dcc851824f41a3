"""SageMaker hosting: models, endpoint configurations, endpoints.

Revision ID: 0006_sagemaker_hosting
Revises: 0005_sagemaker_training
Create Date: 2025-01-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006_sagemaker_hosting"
down_revision = "0005_sagemaker_training"
branch_labels = None
depends_on = None

WHEN = sa.DateTime(timezone=True)


def _key() -> list[sa.Column]:
    return [
        sa.Column("account_id", sa.String(64), primary_key=True),
        sa.Column("region", sa.String(32), primary_key=True),
        sa.Column("name", sa.String(63), primary_key=True),
    ]


def upgrade() -> None:
    op.create_table(
        "sagemaker_models",
        *_key(),
        sa.Column("primary_container", sa.JSON, nullable=False),
        sa.Column("execution_role_arn", sa.String(2048), nullable=True),
        sa.Column("created_at", WHEN, nullable=False),
    )
    op.create_table(
        "sagemaker_endpoint_configs",
        *_key(),
        sa.Column("production_variants", sa.JSON, nullable=False),
        sa.Column("created_at", WHEN, nullable=False),
    )
    op.create_table(
        "sagemaker_endpoints",
        *_key(),
        sa.Column("config_name", sa.String(63), nullable=False),
        sa.Column("status", sa.String(32), nullable=False),
        sa.Column("failure_reason", sa.String(1024), nullable=True),
        sa.Column("variants", sa.JSON, nullable=False),
        sa.Column("created_at", WHEN, nullable=False),
        sa.Column("last_modified", WHEN, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("sagemaker_endpoints")
    op.drop_table("sagemaker_endpoint_configs")
    op.drop_table("sagemaker_models")
