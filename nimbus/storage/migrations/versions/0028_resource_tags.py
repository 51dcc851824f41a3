"""Tags where Nimbus kept none: SageMaker models, endpoint configurations and endpoints (SageMaker's
list of ``{"Key", "Value"}``), and CloudWatch Logs groups (a map).

Revision ID: 0028_resource_tags
Revises: 0027_node_addresses
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0028_resource_tags"
down_revision = "0027_node_addresses"
branch_labels = None
depends_on = None

_HOSTING = ("sagemaker_models", "sagemaker_endpoint_configs", "sagemaker_endpoints")


def upgrade() -> None:
    for table in _HOSTING:
        op.add_column(table, sa.Column("tags", sa.JSON(), nullable=True))
    op.create_table(
        "logs_group_tags",
        sa.Column("account_id", sa.String(64), primary_key=True),
        sa.Column("region", sa.String(32), primary_key=True),
        sa.Column("log_group", sa.String(512), primary_key=True),
        sa.Column("tags", sa.JSON(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("logs_group_tags")
    for table in _HOSTING:
        op.drop_column(table, "tags")
