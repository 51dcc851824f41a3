"""Lex V2 channel integrations: a bot alias and locale reachable from a messaging platform (Slack,
Twilio SMS, Facebook Messenger) through a webhook of Nimbus's own. Declared on the shared ``Base``."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Index, String
from sqlalchemy.orm import Mapped, mapped_column

from nimbus.storage.schema import Base


class LexChannelRecord(Base):
    __tablename__ = "lex_channels"
    __table_args__ = (Index("ix_lex_channels_account", "account_id", "region"),)

    channel_id: Mapped[str] = mapped_column(String(10), primary_key=True)
    account_id: Mapped[str] = mapped_column(String(64))
    region: Mapped[str] = mapped_column(String(32))
    name: Mapped[str] = mapped_column(String(100))
    platform: Mapped[str] = mapped_column(String(16))  # slack, twilio-sms or facebook
    bot_id: Mapped[str] = mapped_column(String(10))
    bot_alias_id: Mapped[str] = mapped_column(String(10))
    locale_id: Mapped[str] = mapped_column(String(16))
    secrets: Mapped[dict[str, Any]]  # the platform's credentials, by name (never listed)
    api_url: Mapped[str | None] = mapped_column(String(2048))  # the platform's API, if not the default
    created_at: Mapped[datetime]
