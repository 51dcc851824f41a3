"""SageMaker hyperparameter tuning jobs (and the trials they launch), processing jobs, notebook
instances and their lifecycle configurations.

Revision ID: 0013_sagemaker_tuning_processing
Revises: 0012_notifications_streams
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013_sagemaker_tuning_processing"
down_revision = "0012_notifications_streams"
branch_labels = None
depends_on = None

WHEN = sa.DateTime(timezone=True)


def job_key(length: int) -> list[sa.Column]:
    return [
        sa.Column("account_id", sa.String(64), primary_key=True),
        sa.Column("region", sa.String(32), primary_key=True),
        sa.Column("name", sa.String(length), primary_key=True),
    ]


def upgrade() -> None:
    with op.batch_alter_table("sagemaker_training_jobs") as table:
        table.add_column(sa.Column("tuning_job_arn", sa.String(256)))
    op.create_table(
        "sagemaker_tuning_jobs",
        *job_key(32),
        sa.Column("caller_arn", sa.String(256), nullable=False),
        sa.Column("request", sa.JSON, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("failure_reason", sa.String(1024)),
        sa.Column("not_improving", sa.Integer, nullable=False),
        sa.Column("created_at", WHEN, nullable=False),
        sa.Column("last_modified", WHEN, nullable=False),
        sa.Column("tuning_end", WHEN),
    )
    op.create_index("ix_sagemaker_tuning_jobs_status", "sagemaker_tuning_jobs", ["status"])
    op.create_table(
        "sagemaker_tuning_trials",
        sa.Column("account_id", sa.String(64), primary_key=True),
        sa.Column("region", sa.String(32), primary_key=True),
        sa.Column("training_job", sa.String(63), primary_key=True),
        sa.Column("tuning_job", sa.String(32), nullable=False),
        sa.Column("number", sa.Integer, nullable=False),
        sa.Column("tuned_hyperparameters", sa.JSON, nullable=False),
        sa.Column("objective_status", sa.String(16), nullable=False),
        sa.Column("objective_value", sa.Float),
    )
    op.create_index(
        "ix_sagemaker_tuning_trials_tuning_job",
        "sagemaker_tuning_trials",
        ["account_id", "region", "tuning_job"],
    )
    op.create_table(
        "sagemaker_processing_jobs",
        *job_key(63),
        sa.Column("caller_arn", sa.String(256), nullable=False),
        sa.Column("request", sa.JSON, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("failure_reason", sa.String(1024)),
        sa.Column("exit_message", sa.String(1024)),
        sa.Column("created_at", WHEN, nullable=False),
        sa.Column("last_modified", WHEN, nullable=False),
        sa.Column("processing_start", WHEN),
        sa.Column("processing_end", WHEN),
    )
    op.create_index("ix_sagemaker_processing_jobs_status", "sagemaker_processing_jobs", ["status"])
    op.create_table(
        "sagemaker_notebook_instances",
        *job_key(63),
        sa.Column("request", sa.JSON, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("failure_reason", sa.String(1024)),
        sa.Column("token_secret", sa.String(64), nullable=False),
        sa.Column("created_at", WHEN, nullable=False),
        sa.Column("last_modified", WHEN, nullable=False),
        sa.Column("started_once", sa.Boolean, nullable=False),
    )
    op.create_index("ix_sagemaker_notebook_instances_status", "sagemaker_notebook_instances", ["status"])
    op.create_table(
        "sagemaker_notebook_lifecycle_configs",
        *job_key(63),
        sa.Column("on_create", sa.JSON, nullable=False),
        sa.Column("on_start", sa.JSON, nullable=False),
        sa.Column("created_at", WHEN, nullable=False),
        sa.Column("last_modified", WHEN, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("sagemaker_notebook_lifecycle_configs")
    op.drop_table("sagemaker_notebook_instances")
    op.drop_table("sagemaker_processing_jobs")
    op.drop_table("sagemaker_tuning_trials")
    op.drop_table("sagemaker_tuning_jobs")
    with op.batch_alter_table("sagemaker_training_jobs") as table:
        table.drop_column("tuning_job_arn")
