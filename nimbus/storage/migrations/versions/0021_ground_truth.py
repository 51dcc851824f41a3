"""SageMaker Ground Truth: private workteams, labelling jobs, their data objects and workers' answers.

Revision ID: 0021_ground_truth
Revises: 0020_iam_tags_acls
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0021_ground_truth"
down_revision = "0020_iam_tags_acls"
branch_labels = None
depends_on = None

WHEN = sa.DateTime(timezone=True)


def _key(name: str = "name") -> list[sa.Column]:
    return [
        sa.Column("account_id", sa.String(64), primary_key=True),
        sa.Column("region", sa.String(32), primary_key=True),
        sa.Column(name, sa.String(63), primary_key=True),
    ]


def upgrade() -> None:
    op.create_table(
        "sagemaker_workteams",
        *_key(),
        sa.Column("request", sa.JSON, nullable=False),
        sa.Column("created_at", WHEN, nullable=False),
        sa.Column("last_updated", WHEN, nullable=False),
    )
    op.create_table(
        "sagemaker_labeling_jobs",
        *_key(),
        sa.Column("caller_arn", sa.String(256), nullable=False),
        sa.Column("request", sa.JSON, nullable=False),
        sa.Column("task_type", sa.String(64), nullable=False),
        sa.Column("labels", sa.JSON, nullable=False),
        sa.Column("workteam_arn", sa.String(256), nullable=False),
        sa.Column("reference_code", sa.String(64), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("failure_reason", sa.String(1024)),
        sa.Column("created_at", WHEN, nullable=False),
        sa.Column("last_modified", WHEN, nullable=False),
        sa.Column("labeling_end", WHEN),
    )
    op.create_index("ix_sagemaker_labeling_jobs_workteam", "sagemaker_labeling_jobs", ["workteam_arn"])
    op.create_table(
        "sagemaker_labeling_objects",
        *_key("job_name"),
        sa.Column("position", sa.Integer, primary_key=True),
        sa.Column("entry", sa.JSON, nullable=False),
        sa.Column("consolidated", sa.JSON),
    )
    op.create_table(
        "sagemaker_labeling_answers",
        *_key("job_name"),
        sa.Column("position", sa.Integer, primary_key=True),
        sa.Column("worker_arn", sa.String(256), primary_key=True),
        sa.Column("answer", sa.JSON),
        sa.Column("taken_at", WHEN, nullable=False),
        sa.Column("submitted_at", WHEN),
    )


def downgrade() -> None:
    for name in (
        "sagemaker_labeling_answers",
        "sagemaker_labeling_objects",
        "sagemaker_labeling_jobs",
        "sagemaker_workteams",
    ):
        op.drop_table(name)
