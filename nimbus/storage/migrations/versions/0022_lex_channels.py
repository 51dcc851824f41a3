"""Lex V2 channel integrations (Slack, Twilio SMS, Facebook Messenger).

Revision ID: 0022_lex_channels
Revises: 0021_ground_truth
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0022_lex_channels"
down_revision = "0021_ground_truth"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "lex_channels",
        sa.Column("channel_id", sa.String(10), primary_key=True),
        sa.Column("account_id", sa.String(64), nullable=False),
        sa.Column("region", sa.String(32), nullable=False),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("platform", sa.String(16), nullable=False),
        sa.Column("bot_id", sa.String(10), nullable=False),
        sa.Column("bot_alias_id", sa.String(10), nullable=False),
        sa.Column("locale_id", sa.String(16), nullable=False),
        sa.Column("secrets", sa.JSON, nullable=False),
        sa.Column("api_url", sa.String(2048), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_lex_channels_account", "lex_channels", ["account_id", "region"])


def downgrade() -> None:
    op.drop_table("lex_channels")
