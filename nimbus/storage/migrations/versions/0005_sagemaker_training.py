"""SageMaker training jobs, and the log events (CloudWatch Logs) their processes print.

Revision ID: 0005_sagemaker_training
Revises: 0004_lex_sessions
Create Date: 2025-01-05
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005_sagemaker_training"
down_revision = "0004_lex_sessions"
branch_labels = None
depends_on = None

WHEN = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "sagemaker_training_jobs",
        sa.Column("account_id", sa.String(64), primary_key=True),
        sa.Column("region", sa.String(32), primary_key=True),
        sa.Column("name", sa.String(63), primary_key=True),
        sa.Column("caller_arn", sa.String(256), nullable=False),
        sa.Column("request", sa.JSON, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("secondary_status", sa.String(32), nullable=False),
        sa.Column("transitions", sa.JSON, nullable=False),
        sa.Column("failure_reason", sa.String(1024)),
        sa.Column("final_metrics", sa.JSON, nullable=False),
        sa.Column("model_artifacts", sa.String(1024)),
        sa.Column("log_stream", sa.String(512)),
        sa.Column("created_at", WHEN, nullable=False),
        sa.Column("last_modified", WHEN, nullable=False),
        sa.Column("training_start", WHEN),
        sa.Column("training_end", WHEN),
        sa.Column("billable_seconds", sa.Integer),
    )
    op.create_index("ix_sagemaker_training_jobs_status", "sagemaker_training_jobs", ["status"])
    op.create_table(
        "logs_events",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("account_id", sa.String(64), nullable=False),
        sa.Column("region", sa.String(32), nullable=False),
        sa.Column("log_group", sa.String(512), nullable=False),
        sa.Column("log_stream", sa.String(512), nullable=False),
        sa.Column("timestamp", sa.BigInteger, nullable=False),
        sa.Column("ingestion_time", sa.BigInteger, nullable=False),
        sa.Column("message", sa.Text, nullable=False),
    )
    op.create_index(
        "ix_logs_events_stream", "logs_events", ["account_id", "region", "log_group", "log_stream", "id"]
    )


def downgrade() -> None:
    op.drop_index("ix_logs_events_stream", "logs_events")
    op.drop_table("logs_events")
    op.drop_index("ix_sagemaker_training_jobs_status", "sagemaker_training_jobs")
    op.drop_table("sagemaker_training_jobs")
