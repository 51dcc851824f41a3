"""Lex V2 runtime records: conversations in progress (sessions) and every utterance a bot heard, for
ListAggregatedUtterances. Declared on the shared ``Base`` so one metadata holds every table."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from nimbus.storage.schema import Base


class LexSessionRecord(Base):
    """One conversation with one bot alias in one locale. ``turn`` counts the writes, so two requests
    racing on the same session cannot both win (the loser gets ConflictException)."""

    __tablename__ = "lex_sessions"
    __table_args__ = (Index("ix_lex_sessions_expires_at", "expires_at"),)

    account_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    region: Mapped[str] = mapped_column(String(32), primary_key=True)
    bot_id: Mapped[str] = mapped_column(String(10), primary_key=True)
    bot_alias_id: Mapped[str] = mapped_column(String(10), primary_key=True)
    locale_id: Mapped[str] = mapped_column(String(16), primary_key=True)
    session_id: Mapped[str] = mapped_column(String(100), primary_key=True)
    session_state: Mapped[dict[str, Any]] = mapped_column()  # SessionState less its activeContexts
    active_contexts: Mapped[list[Any]] = mapped_column()  # contexts with their absolute expiry
    messages: Mapped[list[Any]] = mapped_column()  # the last messages sent to the user
    interpretations: Mapped[list[Any]] = mapped_column()  # the last turn's interpretations
    prompt_attempts: Mapped[int] = mapped_column(Integer)  # retries of the prompt now waiting
    turn: Mapped[int] = mapped_column(Integer)
    last_activity: Mapped[datetime]
    expires_at: Mapped[datetime]


class LexUtteranceRecord(Base):
    """One utterance a bot heard: a hit when it activated an intent, a miss when it fell to
    FallbackIntent. Counted by ListAggregatedUtterances over its time windows."""

    __tablename__ = "lex_utterances"
    __table_args__ = (
        Index("ix_lex_utterances_bot", "account_id", "region", "bot_id", "locale_id", "recorded_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    account_id: Mapped[str] = mapped_column(String(64))
    region: Mapped[str] = mapped_column(String(32))
    bot_id: Mapped[str] = mapped_column(String(10))
    bot_alias_id: Mapped[str] = mapped_column(String(10))
    bot_version: Mapped[str] = mapped_column(String(5))
    locale_id: Mapped[str] = mapped_column(String(16))
    utterance: Mapped[str] = mapped_column(String(1024))
    missed: Mapped[bool] = mapped_column(Boolean)
    recorded_at: Mapped[datetime]
