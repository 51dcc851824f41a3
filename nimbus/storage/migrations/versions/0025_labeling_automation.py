"""Ground Truth automated data labelling: which human batch a data object went to and whether the
machine labelled it; a job's claim on writing its output, and its final active-learning model.

Revision ID: 0025_labeling_automation
Revises: 0024_metrics
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0025_labeling_automation"
down_revision = "0024_metrics"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("sagemaker_labeling_objects", sa.Column("human_batch", sa.Integer, nullable=True))
    op.add_column(
        "sagemaker_labeling_objects",
        sa.Column("machine_labeled", sa.Boolean, nullable=False, server_default=sa.false()),
    )
    # every object of a job from before automation went to people in its one batch
    op.execute("UPDATE sagemaker_labeling_objects SET human_batch = 1")
    op.add_column(
        "sagemaker_labeling_jobs",
        sa.Column("output_claimed", sa.Boolean, nullable=False, server_default=sa.false()),
    )
    op.add_column("sagemaker_labeling_jobs", sa.Column("final_model_arn", sa.String(2048), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("sagemaker_labeling_jobs") as table:
        table.drop_column("final_model_arn")
        table.drop_column("output_claimed")
    with op.batch_alter_table("sagemaker_labeling_objects") as table:
        table.drop_column("machine_labeled")
        table.drop_column("human_batch")
