"""SageMaker Inference Recommender jobs.

Revision ID: 0018_inference_recommender
Revises: 0017_lex_channels_tests
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0018_inference_recommender"
down_revision = "0017_lex_channels_tests"
branch_labels = None
depends_on = None

WHEN = sa.DateTime(timezone=True)
TABLE = "sagemaker_recommendation_jobs"


def upgrade() -> None:
    op.create_table(
        TABLE,
        sa.Column("account_id", sa.String(64), primary_key=True),
        sa.Column("region", sa.String(32), primary_key=True),
        sa.Column("name", sa.String(64), primary_key=True),
        sa.Column("caller_arn", sa.String(256), nullable=False),
        sa.Column("request", sa.JSON, nullable=False),
        sa.Column("model_name", sa.String(63)),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("failure_reason", sa.String(1024)),
        sa.Column("steps", sa.JSON, nullable=False),
        sa.Column("recommendations", sa.JSON, nullable=False),
        sa.Column("report", sa.JSON, nullable=False),
        sa.Column("created_at", WHEN, nullable=False),
        sa.Column("last_modified", WHEN, nullable=False),
        sa.Column("completion_time", WHEN),
    )
    op.create_index(f"ix_{TABLE}_status", TABLE, ["status"])
    op.create_index(f"ix_{TABLE}_model", TABLE, ["account_id", "region", "model_name"])


def downgrade() -> None:
    op.drop_index(f"ix_{TABLE}_model", TABLE)
    op.drop_index(f"ix_{TABLE}_status", TABLE)
    op.drop_table(TABLE)
