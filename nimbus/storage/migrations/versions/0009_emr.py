"""EMR clusters, steps and instances.

Revision ID: 0009_emr
Revises: 0008_iam
Create Date: 2025-01-09
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009_emr"
down_revision = "0008_iam"
branch_labels = None
depends_on = None

WHEN = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "emr_clusters",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("account_id", sa.String(64), nullable=False),
        sa.Column("region", sa.String(32), nullable=False),
        sa.Column("caller_arn", sa.String(256), nullable=False),
        sa.Column("name", sa.String(256), nullable=False),
        sa.Column("request", sa.JSON, nullable=False),
        sa.Column("instance_groups", sa.JSON, nullable=False),
        sa.Column("state", sa.String(32), nullable=False),
        sa.Column("reason_code", sa.String(32)),
        sa.Column("reason_message", sa.String(1024)),
        sa.Column("master_url", sa.String(256)),
        sa.Column("created_at", WHEN, nullable=False),
        sa.Column("ready_at", WHEN),
        sa.Column("ended_at", WHEN),
    )
    op.create_index("ix_emr_clusters_account_state", "emr_clusters", ["account_id", "region", "state"])
    op.create_table(
        "emr_steps",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("cluster_id", sa.String(32), sa.ForeignKey("emr_clusters.id"), nullable=False),
        sa.Column("position", sa.Integer, nullable=False),
        sa.Column("config", sa.JSON, nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("failure", sa.JSON),
        sa.Column("pid", sa.Integer),
        sa.Column("created_at", WHEN, nullable=False),
        sa.Column("started_at", WHEN),
        sa.Column("ended_at", WHEN),
    )
    op.create_index("ix_emr_steps_cluster", "emr_steps", ["cluster_id", "position"])
    op.create_table(
        "emr_instances",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("cluster_id", sa.String(32), sa.ForeignKey("emr_clusters.id"), nullable=False),
        sa.Column("group_id", sa.String(32), nullable=False),
        sa.Column("ec2_instance_id", sa.String(32), nullable=False),
        sa.Column("instance_type", sa.String(64), nullable=False),
        sa.Column("state", sa.String(32), nullable=False),
        sa.Column("reason_code", sa.String(32)),
        sa.Column("reason_message", sa.String(1024)),
        sa.Column("pid", sa.Integer),
        sa.Column("created_at", WHEN, nullable=False),
        sa.Column("ready_at", WHEN),
        sa.Column("ended_at", WHEN),
    )
    op.create_index("ix_emr_instances_cluster", "emr_instances", ["cluster_id"])


def downgrade() -> None:
    op.drop_table("emr_instances")
    op.drop_table("emr_steps")
    op.drop_table("emr_clusters")
