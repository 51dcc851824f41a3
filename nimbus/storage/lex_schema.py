"""Lex V2 bot definitions: bots, their versions and locales, intents, slots, slot types, aliases, and the
export and import jobs. Each row keeps the resource's definition as JSON in botocore member names; the
columns beside it are the keys, names, statuses and timestamps that queries and constraints need.
Declared on the shared ``Base`` so one metadata (and one Alembic history) holds every table."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, ForeignKeyConstraint, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from nimbus.storage.schema import Base

LEX_ID = String(10)
VERSION = String(5)  # "DRAFT" or a number up to 99999
LOCALE = String(16)


class LexBotRecord(Base):
    __tablename__ = "lex_bots"
    __table_args__ = (Index("ux_lex_bots_name", "account_id", "region", "bot_name", unique=True),)

    bot_id: Mapped[str] = mapped_column(LEX_ID, primary_key=True)
    account_id: Mapped[str] = mapped_column(String(64))
    region: Mapped[str] = mapped_column(String(32))
    bot_name: Mapped[str] = mapped_column(String(100))
    bot_status: Mapped[str] = mapped_column(String(16))
    last_version: Mapped[int] = mapped_column(Integer)  # numbers are never reused, as in Lex
    definition: Mapped[dict[str, Any]]
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class LexBotVersionRecord(Base):
    """A numbered version; DRAFT is the bot row itself."""

    __tablename__ = "lex_bot_versions"

    bot_id: Mapped[str] = mapped_column(
        LEX_ID, ForeignKey("lex_bots.bot_id", ondelete="CASCADE"), primary_key=True
    )
    bot_version: Mapped[str] = mapped_column(VERSION, primary_key=True)
    bot_status: Mapped[str] = mapped_column(String(16))
    definition: Mapped[dict[str, Any]]
    created_at: Mapped[datetime]


class LexLocaleRecord(Base):
    """A locale of a version (DRAFT included), its build status and the trained model's file."""

    __tablename__ = "lex_bot_locales"

    bot_id: Mapped[str] = mapped_column(
        LEX_ID, ForeignKey("lex_bots.bot_id", ondelete="CASCADE"), primary_key=True
    )
    bot_version: Mapped[str] = mapped_column(VERSION, primary_key=True)
    locale_id: Mapped[str] = mapped_column(LOCALE, primary_key=True)
    locale_status: Mapped[str] = mapped_column(String(16))
    failure_reasons: Mapped[list[Any]]
    builder: Mapped[str | None] = mapped_column(String(36))  # the id of its running build (a uuid)
    model_path: Mapped[str | None] = mapped_column(String(1024))
    definition: Mapped[dict[str, Any]]
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    build_submitted_at: Mapped[datetime | None]


def _locale_key() -> ForeignKeyConstraint:
    return ForeignKeyConstraint(
        ["bot_id", "bot_version", "locale_id"],
        ["lex_bot_locales.bot_id", "lex_bot_locales.bot_version", "lex_bot_locales.locale_id"],
        ondelete="CASCADE",
    )


class LexIntentRecord(Base):
    __tablename__ = "lex_intents"
    __table_args__ = (
        _locale_key(),
        Index("ux_lex_intents_name", "bot_id", "bot_version", "locale_id", "intent_name", unique=True),
    )

    bot_id: Mapped[str] = mapped_column(LEX_ID, primary_key=True)
    bot_version: Mapped[str] = mapped_column(VERSION, primary_key=True)
    locale_id: Mapped[str] = mapped_column(LOCALE, primary_key=True)
    intent_id: Mapped[str] = mapped_column(LEX_ID, primary_key=True)
    intent_name: Mapped[str] = mapped_column(String(100))
    definition: Mapped[dict[str, Any]]
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class LexSlotRecord(Base):
    __tablename__ = "lex_slots"
    __table_args__ = (
        ForeignKeyConstraint(
            ["bot_id", "bot_version", "locale_id", "intent_id"],
            [
                "lex_intents.bot_id",
                "lex_intents.bot_version",
                "lex_intents.locale_id",
                "lex_intents.intent_id",
            ],
            ondelete="CASCADE",
        ),
        Index(
            "ux_lex_slots_name", "bot_id", "bot_version", "locale_id", "intent_id", "slot_name", unique=True
        ),
    )

    bot_id: Mapped[str] = mapped_column(LEX_ID, primary_key=True)
    bot_version: Mapped[str] = mapped_column(VERSION, primary_key=True)
    locale_id: Mapped[str] = mapped_column(LOCALE, primary_key=True)
    intent_id: Mapped[str] = mapped_column(LEX_ID, primary_key=True)
    slot_id: Mapped[str] = mapped_column(LEX_ID, primary_key=True)
    slot_name: Mapped[str] = mapped_column(String(100))
    definition: Mapped[dict[str, Any]]
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class LexSlotTypeRecord(Base):
    __tablename__ = "lex_slot_types"
    __table_args__ = (
        _locale_key(),
        Index("ux_lex_slot_types_name", "bot_id", "bot_version", "locale_id", "slot_type_name", unique=True),
    )

    bot_id: Mapped[str] = mapped_column(LEX_ID, primary_key=True)
    bot_version: Mapped[str] = mapped_column(VERSION, primary_key=True)
    locale_id: Mapped[str] = mapped_column(LOCALE, primary_key=True)
    slot_type_id: Mapped[str] = mapped_column(LEX_ID, primary_key=True)
    slot_type_name: Mapped[str] = mapped_column(String(100))
    definition: Mapped[dict[str, Any]]
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class LexBotAliasRecord(Base):
    __tablename__ = "lex_bot_aliases"
    __table_args__ = (Index("ux_lex_bot_aliases_name", "bot_id", "bot_alias_name", unique=True),)

    bot_id: Mapped[str] = mapped_column(
        LEX_ID, ForeignKey("lex_bots.bot_id", ondelete="CASCADE"), primary_key=True
    )
    bot_alias_id: Mapped[str] = mapped_column(LEX_ID, primary_key=True)
    bot_alias_name: Mapped[str] = mapped_column(String(100))
    bot_version: Mapped[str | None] = mapped_column(VERSION)
    definition: Mapped[dict[str, Any]]
    history: Mapped[list[Any]]  # botAliasHistoryEvents, timestamps as ISO strings
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class LexTransferRecord(Base):
    """An export or an import: what it covers, its status, and the zip's object key in the internal bucket."""

    __tablename__ = "lex_transfers"
    __table_args__ = (Index("ix_lex_transfers_kind", "account_id", "region", "kind"),)

    transfer_id: Mapped[str] = mapped_column(LEX_ID, primary_key=True)
    kind: Mapped[str] = mapped_column(String(8))  # "export" or "import"
    account_id: Mapped[str] = mapped_column(String(64))
    region: Mapped[str] = mapped_column(String(32))
    status: Mapped[str | None] = mapped_column(String(16))  # an import's is None until StartImport
    failure_reasons: Mapped[list[Any]]
    definition: Mapped[dict[str, Any]]
    object_key: Mapped[str] = mapped_column(String(256))
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
