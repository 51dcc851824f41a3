"""Node addresses: where each Nimbus node answers, so another node can forward it the requests only it
can serve (invocations of the endpoints whose workers it runs).

Revision ID: 0027_node_addresses
Revises: 0026_emr_ui
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0027_node_addresses"
down_revision = "0026_emr_ui"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "nimbus_nodes",
        sa.Column("id", sa.String(256), primary_key=True),
        sa.Column("address", sa.String(1024), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("nimbus_nodes")
