"""Lex V2 runtime: sessions and the utterances bots heard.

Revision ID: 0004_lex_sessions
Revises: 0003_lex_bots
Create Date: 2025-01-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004_lex_sessions"
down_revision = "0003_lex_bots"
branch_labels = None
depends_on = None

WHEN = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "lex_sessions",
        sa.Column("account_id", sa.String(64), primary_key=True),
        sa.Column("region", sa.String(32), primary_key=True),
        sa.Column("bot_id", sa.String(10), primary_key=True),
        sa.Column("bot_alias_id", sa.String(10), primary_key=True),
        sa.Column("locale_id", sa.String(16), primary_key=True),
        sa.Column("session_id", sa.String(100), primary_key=True),
        sa.Column("session_state", sa.JSON, nullable=False),
        sa.Column("active_contexts", sa.JSON, nullable=False),
        sa.Column("messages", sa.JSON, nullable=False),
        sa.Column("interpretations", sa.JSON, nullable=False),
        sa.Column("prompt_attempts", sa.Integer, nullable=False),
        sa.Column("turn", sa.Integer, nullable=False),
        sa.Column("last_activity", WHEN, nullable=False),
        sa.Column("expires_at", WHEN, nullable=False),
    )
    op.create_index("ix_lex_sessions_expires_at", "lex_sessions", ["expires_at"])
    op.create_table(
        "lex_utterances",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("account_id", sa.String(64), nullable=False),
        sa.Column("region", sa.String(32), nullable=False),
        sa.Column("bot_id", sa.String(10), nullable=False),
        sa.Column("bot_alias_id", sa.String(10), nullable=False),
        sa.Column("bot_version", sa.String(5), nullable=False),
        sa.Column("locale_id", sa.String(16), nullable=False),
        sa.Column("utterance", sa.String(1024), nullable=False),
        sa.Column("missed", sa.Boolean, nullable=False),
        sa.Column("recorded_at", WHEN, nullable=False),
    )
    op.create_index(
        "ix_lex_utterances_bot",
        "lex_utterances",
        ["account_id", "region", "bot_id", "locale_id", "recorded_at"],
    )


def downgrade() -> None:
    op.drop_index("ix_lex_utterances_bot", "lex_utterances")
    op.drop_table("lex_utterances")
    op.drop_index("ix_lex_sessions_expires_at", "lex_sessions")
    op.drop_table("lex_sessions")
