"""Lex V2 bots: bots, versions, locales, intents, slots, slot types, aliases, exports and imports.

Revision ID: 0003_lex_bots
Revises: 0002_rekognition_collections
Create Date: 2025-01-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003_lex_bots"
down_revision = "0002_rekognition_collections"
branch_labels = None
depends_on = None

WHEN = sa.DateTime(timezone=True)
LEX_ID = sa.String(10)
VERSION = sa.String(5)
LOCALE = sa.String(16)


def bot_key() -> sa.ForeignKey:
    """A new ForeignKey each time (one object cannot belong to two columns)."""
    return sa.ForeignKey("lex_bots.bot_id", ondelete="CASCADE")


def locale_key() -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["bot_id", "bot_version", "locale_id"],
        ["lex_bot_locales.bot_id", "lex_bot_locales.bot_version", "lex_bot_locales.locale_id"],
        ondelete="CASCADE",
    )


def locale_columns() -> list[sa.Column]:
    return [
        sa.Column("bot_id", LEX_ID, primary_key=True),
        sa.Column("bot_version", VERSION, primary_key=True),
        sa.Column("locale_id", LOCALE, primary_key=True),
    ]


def definition_columns() -> list[sa.Column]:
    return [
        sa.Column("definition", sa.JSON, nullable=False),
        sa.Column("created_at", WHEN, nullable=False),
        sa.Column("updated_at", WHEN, nullable=False),
    ]


def upgrade() -> None:
    op.create_table(
        "lex_bots",
        sa.Column("bot_id", LEX_ID, primary_key=True),
        sa.Column("account_id", sa.String(64), nullable=False),
        sa.Column("region", sa.String(32), nullable=False),
        sa.Column("bot_name", sa.String(100), nullable=False),
        sa.Column("bot_status", sa.String(16), nullable=False),
        sa.Column("last_version", sa.Integer, nullable=False),
        *definition_columns(),
    )
    op.create_index("ux_lex_bots_name", "lex_bots", ["account_id", "region", "bot_name"], unique=True)
    op.create_table(
        "lex_bot_versions",
        sa.Column("bot_id", LEX_ID, bot_key(), primary_key=True),
        sa.Column("bot_version", VERSION, primary_key=True),
        sa.Column("bot_status", sa.String(16), nullable=False),
        sa.Column("definition", sa.JSON, nullable=False),
        sa.Column("created_at", WHEN, nullable=False),
    )
    op.create_table(
        "lex_bot_locales",
        sa.Column("bot_id", LEX_ID, bot_key(), primary_key=True),
        sa.Column("bot_version", VERSION, primary_key=True),
        sa.Column("locale_id", LOCALE, primary_key=True),
        sa.Column("locale_status", sa.String(16), nullable=False),
        sa.Column("failure_reasons", sa.JSON, nullable=False),
        sa.Column("builder", sa.String(36)),
        sa.Column("model_path", sa.String(1024)),
        *definition_columns(),
        sa.Column("build_submitted_at", WHEN),
    )
    op.create_table(
        "lex_intents",
        *locale_columns(),
        sa.Column("intent_id", LEX_ID, primary_key=True),
        sa.Column("intent_name", sa.String(100), nullable=False),
        *definition_columns(),
        locale_key(),
    )
    op.create_index(
        "ux_lex_intents_name",
        "lex_intents",
        ["bot_id", "bot_version", "locale_id", "intent_name"],
        unique=True,
    )
    op.create_table(
        "lex_slots",
        *locale_columns(),
        sa.Column("intent_id", LEX_ID, primary_key=True),
        sa.Column("slot_id", LEX_ID, primary_key=True),
        sa.Column("slot_name", sa.String(100), nullable=False),
        *definition_columns(),
        sa.ForeignKeyConstraint(
            ["bot_id", "bot_version", "locale_id", "intent_id"],
            [
                "lex_intents.bot_id",
                "lex_intents.bot_version",
                "lex_intents.locale_id",
                "lex_intents.intent_id",
            ],
            ondelete="CASCADE",
        ),
    )
    op.create_index(
        "ux_lex_slots_name",
        "lex_slots",
        ["bot_id", "bot_version", "locale_id", "intent_id", "slot_name"],
        unique=True,
    )
    op.create_table(
        "lex_slot_types",
        *locale_columns(),
        sa.Column("slot_type_id", LEX_ID, primary_key=True),
        sa.Column("slot_type_name", sa.String(100), nullable=False),
        *definition_columns(),
        locale_key(),
    )
    op.create_index(
        "ux_lex_slot_types_name",
        "lex_slot_types",
        ["bot_id", "bot_version", "locale_id", "slot_type_name"],
        unique=True,
    )
    op.create_table(
        "lex_bot_aliases",
        sa.Column("bot_id", LEX_ID, bot_key(), primary_key=True),
        sa.Column("bot_alias_id", LEX_ID, primary_key=True),
        sa.Column("bot_alias_name", sa.String(100), nullable=False),
        sa.Column("bot_version", VERSION),
        sa.Column("history", sa.JSON, nullable=False),
        *definition_columns(),
    )
    op.create_index("ux_lex_bot_aliases_name", "lex_bot_aliases", ["bot_id", "bot_alias_name"], unique=True)
    op.create_table(
        "lex_transfers",
        sa.Column("transfer_id", LEX_ID, primary_key=True),
        sa.Column("kind", sa.String(8), nullable=False),
        sa.Column("account_id", sa.String(64), nullable=False),
        sa.Column("region", sa.String(32), nullable=False),
        sa.Column("status", sa.String(16)),
        sa.Column("failure_reasons", sa.JSON, nullable=False),
        sa.Column("object_key", sa.String(256), nullable=False),
        *definition_columns(),
    )
    op.create_index("ix_lex_transfers_kind", "lex_transfers", ["account_id", "region", "kind"])


def downgrade() -> None:
    op.drop_index("ix_lex_transfers_kind", "lex_transfers")
    op.drop_table("lex_transfers")
    op.drop_index("ux_lex_bot_aliases_name", "lex_bot_aliases")
    op.drop_table("lex_bot_aliases")
    op.drop_index("ux_lex_slot_types_name", "lex_slot_types")
    op.drop_table("lex_slot_types")
    op.drop_index("ux_lex_slots_name", "lex_slots")
    op.drop_table("lex_slots")
    op.drop_index("ux_lex_intents_name", "lex_intents")
    op.drop_table("lex_intents")
    op.drop_table("lex_bot_locales")
    op.drop_table("lex_bot_versions")
    op.drop_index("ux_lex_bots_name", "lex_bots")
    op.drop_table("lex_bots")
