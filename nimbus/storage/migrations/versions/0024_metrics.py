"""CloudWatch metrics and alarms; Application Auto Scaling targets, policies and activities.

Revision ID: 0024_metrics
Revises: 0023_leases
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0024_metrics"
down_revision = "0023_leases"
branch_labels = None
depends_on = None


def _id() -> sa.Column:
    return sa.Column("id", sa.Integer, primary_key=True, autoincrement=True)


def _owner() -> list[sa.Column]:
    return [
        sa.Column("account_id", sa.String(64), nullable=False),
        sa.Column("region", sa.String(32), nullable=False),
    ]


def _target() -> list[sa.Column]:
    return [
        sa.Column("service_namespace", sa.String(32), nullable=False),
        sa.Column("resource_id", sa.String(1600), nullable=False),
        sa.Column("scalable_dimension", sa.String(128), nullable=False),
    ]


def _time(name: str, nullable: bool = False) -> sa.Column:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "cw_metrics",
        _id(),
        *_owner(),
        sa.Column("namespace", sa.String(255), nullable=False),
        sa.Column("metric_name", sa.String(255), nullable=False),
        sa.Column("dimensions_key", sa.String(2048), nullable=False),
        sa.Column("dimensions", sa.JSON, nullable=False),
        _time("last_put_at"),
        sa.UniqueConstraint("account_id", "region", "namespace", "metric_name", "dimensions_key"),
    )
    op.create_table(
        "cw_metric_data",
        _id(),
        sa.Column("metric_id", sa.Integer, nullable=False),
        sa.Column("unit", sa.String(32), nullable=False),
        sa.Column("resolution", sa.Integer, nullable=False),
        sa.Column("bucket", sa.BigInteger, nullable=False),
        sa.Column("sample_count", sa.Float, nullable=False),
        sa.Column("sum", sa.Float, nullable=False),
        sa.Column("minimum", sa.Float, nullable=False),
        sa.Column("maximum", sa.Float, nullable=False),
    )
    op.create_index("ix_cw_metric_data_metric", "cw_metric_data", ["metric_id", "bucket"])
    op.create_table(
        "cw_alarms",
        _id(),
        *_owner(),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("definition", sa.JSON, nullable=False),
        sa.Column("state_value", sa.String(32), nullable=False),
        sa.Column("state_reason", sa.String(1023), nullable=False),
        sa.Column("state_reason_data", sa.String(4000), nullable=True),
        _time("state_updated_at"),
        _time("configuration_updated_at"),
        _time("evaluated_at", nullable=True),
        _time("actions_done_at", nullable=True),
        sa.UniqueConstraint("account_id", "region", "name"),
    )
    op.create_table(
        "aas_scalable_targets",
        _id(),
        *_owner(),
        *_target(),
        sa.Column("arn", sa.String(1600), nullable=False),
        sa.Column("min_capacity", sa.Integer, nullable=False),
        sa.Column("max_capacity", sa.Integer, nullable=False),
        sa.Column("role_arn", sa.String(1600), nullable=False),
        sa.Column("suspended_state", sa.JSON, nullable=False),
        _time("created_at"),
        sa.UniqueConstraint("account_id", "region", "service_namespace", "resource_id", "scalable_dimension"),
    )
    op.create_table(
        "aas_scaling_policies",
        _id(),
        *_owner(),
        *_target(),
        sa.Column("name", sa.String(256), nullable=False),
        sa.Column("arn", sa.String(1600), nullable=False),
        sa.Column("policy_type", sa.String(32), nullable=False),
        sa.Column("configuration", sa.JSON, nullable=False),
        sa.Column("alarms", sa.JSON, nullable=False),
        _time("created_at"),
        sa.UniqueConstraint(
            "account_id", "region", "service_namespace", "resource_id", "scalable_dimension", "name"
        ),
    )
    op.create_table(
        "aas_scaling_activities",
        sa.Column("activity_id", sa.String(36), primary_key=True),
        *_owner(),
        *_target(),
        sa.Column("description", sa.String(1024), nullable=False),
        sa.Column("cause", sa.String(1024), nullable=False),
        sa.Column("status_code", sa.String(32), nullable=False),
        sa.Column("status_message", sa.String(1024), nullable=True),
        _time("start_time"),
        _time("end_time", nullable=True),
    )
    op.create_index(
        "ix_aas_scaling_activities_target", "aas_scaling_activities", ["account_id", "region", "resource_id"]
    )


def downgrade() -> None:
    for table in (
        "aas_scaling_activities",
        "aas_scaling_policies",
        "aas_scalable_targets",
        "cw_alarms",
        "cw_metric_data",
        "cw_metrics",
    ):
        op.drop_table(table)
