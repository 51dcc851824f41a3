"""Lex V2: test sets, test executions, discrepancy reports, and the conversation log.

Revision ID: 0017_lex_channels_tests
Revises: 0015_iam_policies
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0017_lex_channels_tests"
down_revision = "0015_iam_policies"
branch_labels = None
depends_on = None

WHEN = sa.DateTime(timezone=True)


def _owned(key: str) -> list[sa.Column]:
    return [
        sa.Column(key, sa.String(10), primary_key=True),
        sa.Column("account_id", sa.String(64), nullable=False),
        sa.Column("region", sa.String(32), nullable=False),
    ]


def upgrade() -> None:
    op.create_table(
        "lex_test_sets",
        *_owned("test_set_id"),
        sa.Column("test_set_name", sa.String(100), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("definition", sa.JSON, nullable=False),
        sa.Column("records", sa.JSON, nullable=False),
        sa.Column("created_at", WHEN, nullable=False),
        sa.Column("updated_at", WHEN, nullable=False),
    )
    op.create_index("ix_lex_test_sets_account", "lex_test_sets", ["account_id", "region"])
    op.create_table(
        "lex_test_executions",
        *_owned("test_execution_id"),
        sa.Column("test_set_id", sa.String(10), nullable=False),
        sa.Column("test_set_name", sa.String(100), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("definition", sa.JSON, nullable=False),
        sa.Column("results", sa.JSON, nullable=False),
        sa.Column("failure_reasons", sa.JSON, nullable=False),
        sa.Column("runner", sa.String(36), nullable=True),
        sa.Column("created_at", WHEN, nullable=False),
        sa.Column("updated_at", WHEN, nullable=False),
    )
    op.create_index("ix_lex_test_executions_account", "lex_test_executions", ["account_id", "region"])
    op.create_table(
        "lex_test_set_discrepancy_reports",
        *_owned("report_id"),
        sa.Column("test_set_id", sa.String(10), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("definition", sa.JSON, nullable=False),
        sa.Column("failure_reasons", sa.JSON, nullable=False),
        sa.Column("created_at", WHEN, nullable=False),
        sa.Column("updated_at", WHEN, nullable=False),
    )
    op.create_table(
        "lex_conversation_turns",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("account_id", sa.String(64), nullable=False),
        sa.Column("region", sa.String(32), nullable=False),
        sa.Column("bot_id", sa.String(10), nullable=False),
        sa.Column("bot_alias_id", sa.String(10), nullable=False),
        sa.Column("bot_version", sa.String(5), nullable=False),
        sa.Column("locale_id", sa.String(16), nullable=False),
        sa.Column("session_id", sa.String(100), nullable=False),
        sa.Column("request_id", sa.String(64), nullable=False),
        sa.Column("channel", sa.String(32), nullable=False),
        sa.Column("input_mode", sa.String(16), nullable=False),
        sa.Column("utterance", sa.String(1024), nullable=False),
        sa.Column("intent_name", sa.String(100), nullable=True),
        sa.Column("intent_state", sa.String(32), nullable=True),
        sa.Column("dialog_action", sa.String(32), nullable=False),
        sa.Column("slots", sa.JSON, nullable=False),
        sa.Column("missed", sa.Boolean, nullable=False),
        sa.Column("recorded_at", WHEN, nullable=False),
    )
    op.create_index(
        "ix_lex_conversation_turns_bot",
        "lex_conversation_turns",
        ["account_id", "region", "bot_id", "recorded_at"],
    )


def downgrade() -> None:
    for table in (
        "lex_conversation_turns",
        "lex_test_set_discrepancy_reports",
        "lex_test_executions",
        "lex_test_sets",
    ):
        op.drop_table(table)
