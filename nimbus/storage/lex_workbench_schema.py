"""Lex V2 test workbench and analytics records: test sets (their turns as Lex's TestSetTurnRecord
shapes), test executions with each turn's result, discrepancy reports, and the conversation log every
runtime turn writes, which the analytics operations read. Declared on the shared ``Base``."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from nimbus.storage.schema import Base


class LexTestSetRecord(Base):
    __tablename__ = "lex_test_sets"
    __table_args__ = (Index("ix_lex_test_sets_account", "account_id", "region"),)

    test_set_id: Mapped[str] = mapped_column(String(10), primary_key=True)
    account_id: Mapped[str] = mapped_column(String(64))
    region: Mapped[str] = mapped_column(String(32))
    test_set_name: Mapped[str] = mapped_column(String(100))
    status: Mapped[str] = mapped_column(String(20))
    definition: Mapped[dict[str, Any]]  # description, modality, roleArn, storageLocation
    records: Mapped[list[Any]]  # TestSetTurnRecord shapes, in order
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class LexTestExecutionRecord(Base):
    __tablename__ = "lex_test_executions"
    __table_args__ = (Index("ix_lex_test_executions_account", "account_id", "region"),)

    test_execution_id: Mapped[str] = mapped_column(String(10), primary_key=True)
    account_id: Mapped[str] = mapped_column(String(64))
    region: Mapped[str] = mapped_column(String(32))
    test_set_id: Mapped[str] = mapped_column(String(10))
    test_set_name: Mapped[str] = mapped_column(String(100))
    status: Mapped[str] = mapped_column(String(20))
    definition: Mapped[dict[str, Any]]  # target, apiMode, testExecutionModality
    results: Mapped[list[Any]]  # UtteranceLevelTestResultItem shapes, in record order
    failure_reasons: Mapped[list[Any]]
    runner: Mapped[str | None] = mapped_column(String(36))  # the id of the run in progress, if any
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class LexDiscrepancyReportRecord(Base):
    __tablename__ = "lex_test_set_discrepancy_reports"

    report_id: Mapped[str] = mapped_column(String(10), primary_key=True)
    account_id: Mapped[str] = mapped_column(String(64))
    region: Mapped[str] = mapped_column(String(32))
    test_set_id: Mapped[str] = mapped_column(String(10))
    status: Mapped[str] = mapped_column(String(20))
    definition: Mapped[dict[str, Any]]  # target, testSetDiscrepancyTopErrors
    failure_reasons: Mapped[list[Any]]
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class LexConversationTurnRecord(Base):
    """One turn of a conversation with a bot alias: what the user said (slot values obfuscated where
    the slot asks for it), the intent and its state after the turn, for the analytics operations."""

    __tablename__ = "lex_conversation_turns"
    __table_args__ = (
        Index("ix_lex_conversation_turns_bot", "account_id", "region", "bot_id", "recorded_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    account_id: Mapped[str] = mapped_column(String(64))
    region: Mapped[str] = mapped_column(String(32))
    bot_id: Mapped[str] = mapped_column(String(10))
    bot_alias_id: Mapped[str] = mapped_column(String(10))
    bot_version: Mapped[str] = mapped_column(String(5))
    locale_id: Mapped[str] = mapped_column(String(16))
    session_id: Mapped[str] = mapped_column(String(100))
    request_id: Mapped[str] = mapped_column(String(64))
    channel: Mapped[str] = mapped_column(String(32))
    input_mode: Mapped[str] = mapped_column(String(16))
    utterance: Mapped[str] = mapped_column(String(1024))
    intent_name: Mapped[str | None] = mapped_column(String(100))
    intent_state: Mapped[str | None] = mapped_column(String(32))
    dialog_action: Mapped[str] = mapped_column(String(32))
    slots: Mapped[dict[str, Any]]
    missed: Mapped[bool] = mapped_column(Boolean)
    recorded_at: Mapped[datetime]
