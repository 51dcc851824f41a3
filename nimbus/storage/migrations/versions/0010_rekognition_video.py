"""Rekognition stored-video jobs, Custom Labels projects, datasets and project versions.

Revision ID: 0010_rekognition_video
Revises: 0009_emr
Create Date: 2026-11-27
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010_rekognition_video"
down_revision = "0009_emr"
branch_labels = None
depends_on = None

WHEN = sa.DateTime(timezone=True)


def project_key() -> sa.ForeignKey:
    """A new ForeignKey each time (one object cannot belong to two columns)."""
    return sa.ForeignKey("rekognition_projects.arn", ondelete="CASCADE")


def upgrade() -> None:
    op.create_table(
        "rekognition_video_jobs",
        sa.Column("job_id", sa.String(64), primary_key=True),
        sa.Column("account_id", sa.String(64), nullable=False),
        sa.Column("region", sa.String(32), nullable=False),
        sa.Column("operation", sa.String(32), nullable=False),
        sa.Column("client_request_token", sa.String(64)),
        sa.Column("request", sa.JSON, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("status_message", sa.String(1024)),
        sa.Column("video_metadata", sa.JSON),
        sa.Column("results", sa.JSON),
        sa.Column("created_at", WHEN, nullable=False),
        sa.Column("completed_at", WHEN),
    )
    op.create_index("ix_rekognition_video_jobs_status", "rekognition_video_jobs", ["status"])
    op.create_index(
        "ix_rekognition_video_jobs_token",
        "rekognition_video_jobs",
        ["account_id", "region", "operation", "client_request_token"],
    )
    op.create_table(
        "rekognition_projects",
        sa.Column("arn", sa.String(2048), primary_key=True),
        sa.Column("account_id", sa.String(64), nullable=False),
        sa.Column("region", sa.String(32), nullable=False),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("created_at", WHEN, nullable=False),
    )
    op.create_index(
        "ux_rekognition_projects_name", "rekognition_projects", ["account_id", "region", "name"], unique=True
    )
    op.create_table(
        "rekognition_datasets",
        sa.Column("arn", sa.String(2048), primary_key=True),
        sa.Column("project_arn", sa.String(2048), project_key(), nullable=False),
        sa.Column("dataset_type", sa.String(8), nullable=False),
        sa.Column("status", sa.String(32), nullable=False),
        sa.Column("status_message", sa.String(1024)),
        sa.Column("status_message_code", sa.String(16)),
        sa.Column("entries", sa.JSON, nullable=False),
        sa.Column("created_at", WHEN, nullable=False),
        sa.Column("updated_at", WHEN, nullable=False),
    )
    op.create_index("ix_rekognition_datasets_project_arn", "rekognition_datasets", ["project_arn"])
    op.create_table(
        "rekognition_project_versions",
        sa.Column("arn", sa.String(2048), primary_key=True),
        sa.Column("project_arn", sa.String(2048), project_key(), nullable=False),
        sa.Column("version_name", sa.String(255), nullable=False),
        sa.Column("request", sa.JSON, nullable=False),
        sa.Column("status", sa.String(32), nullable=False),
        sa.Column("status_message", sa.String(1024)),
        sa.Column("f1_score", sa.Float),
        sa.Column("evaluation", sa.JSON),
        sa.Column("min_inference_units", sa.Integer),
        sa.Column("created_at", WHEN, nullable=False),
        sa.Column("training_ended_at", WHEN),
    )
    op.create_index(
        "ix_rekognition_project_versions_project_arn", "rekognition_project_versions", ["project_arn"]
    )
    op.create_index("ix_rekognition_project_versions_status", "rekognition_project_versions", ["status"])


def downgrade() -> None:
    op.drop_table("rekognition_project_versions")
    op.drop_table("rekognition_datasets")
    op.drop_table("rekognition_projects")
    op.drop_table("rekognition_video_jobs")
