"""Leases: which Nimbus node owns each piece of background work, until when.

Revision ID: 0023_leases
Revises: 0022_lex_channels
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0023_leases"
down_revision = "0022_lex_channels"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "nimbus_leases",
        sa.Column("resource", sa.String(512), primary_key=True),
        sa.Column("owner", sa.String(256), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("stop_requested", sa.Boolean, nullable=False),
    )
    op.create_index("ix_nimbus_leases_owner", "nimbus_leases", ["owner"])


def downgrade() -> None:
    op.drop_table("nimbus_leases")
