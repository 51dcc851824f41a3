"""EMR: the web UI address of a cluster's Spark master.

Revision ID: 0026_emr_ui
Revises: 0025_labeling_automation
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0026_emr_ui"
down_revision = "0025_labeling_automation"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("emr_clusters", sa.Column("master_ui_url", sa.String(256), nullable=True))


def downgrade() -> None:
    op.drop_column("emr_clusters", "master_ui_url")
