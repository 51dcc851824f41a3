"""Sessions in the database: one conversation per (bot, alias, locale, session id), kept until the bot's
idle session timeout passes without a turn. A write names the turn it read, so of two requests racing
on one session only the first is kept; the second gets ConflictException."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, delete, insert, select, update
from sqlalchemy.exc import IntegrityError

from nimbus.services.lexv2_runtime.contexts import from_record
from nimbus.services.lexv2_runtime.dialog import Conversation
from nimbus.services.lexv2_runtime.errors import conflict
from nimbus.services.registry import RequestContext
from nimbus.storage.lex_runtime_schema import LexSessionRecord

SESSIONS = LexSessionRecord.__table__


@dataclass(frozen=True)
class SessionKey:
    account_id: str
    region: str
    bot_id: str
    bot_alias_id: str
    locale_id: str
    session_id: str

    @classmethod
    def of(cls, ctx: RequestContext, request: dict[str, Any]) -> SessionKey:
        return cls(
            ctx.caller.account_id,
            ctx.region,
            request["botId"],
            request["botAliasId"],
            request["localeId"],
            request["sessionId"],
        )

    def where(self) -> Any:
        return and_(
            SESSIONS.c.account_id == self.account_id,
            SESSIONS.c.region == self.region,
            SESSIONS.c.bot_id == self.bot_id,
            SESSIONS.c.bot_alias_id == self.bot_alias_id,
            SESSIONS.c.locale_id == self.locale_id,
            SESSIONS.c.session_id == self.session_id,
        )


@dataclass
class StoredSession:
    conversation: Conversation
    turn: int  # 0: not stored yet


def load_session(ctx: RequestContext, key: SessionKey, now: datetime) -> StoredSession | None:
    """The session, or None when there is none or it expired."""
    with ctx.storage.database.engine.connect() as connection:
        row = connection.execute(select(SESSIONS).where(key.where())).first()
    if row is None or row.expires_at <= now:
        return None
    conversation = Conversation(
        state=row.session_state,
        contexts=[from_record(record) for record in row.active_contexts],
        messages=row.messages,
        interpretations=row.interpretations,
        prompt_attempts=row.prompt_attempts,
    )
    return StoredSession(conversation, row.turn)


def save_session(
    ctx: RequestContext,
    key: SessionKey,
    stored: StoredSession | None,
    conversation: Conversation,
    now: datetime,
    idle_ttl: int,
) -> None:
    """Writes the session after a turn; ConflictException when another turn got there first."""
    values = {
        "session_state": conversation.state,
        "active_contexts": [
            context.to_record() for context in conversation.contexts if context.is_alive(now)
        ],
        "messages": conversation.messages,
        "interpretations": conversation.interpretations,
        "prompt_attempts": conversation.prompt_attempts,
        "last_activity": now,
        "expires_at": now + timedelta(seconds=idle_ttl),
    }
    with ctx.storage.database.engine.begin() as connection:
        if stored is None:
            connection.execute(delete(SESSIONS).where(key.where(), SESSIONS.c.expires_at <= now))
            existing = connection.execute(select(SESSIONS.c.turn).where(key.where())).first()
            if existing is not None:
                raise _concurrent(key)
            try:
                connection.execute(insert(SESSIONS), {**_key_columns(key), **values, "turn": 1})
            except IntegrityError:
                raise _concurrent(key) from None
            return
        changed = connection.execute(
            update(SESSIONS)
            .where(key.where(), SESSIONS.c.turn == stored.turn)
            .values(**values, turn=stored.turn + 1)
        )
        if changed.rowcount != 1:
            raise _concurrent(key)


def remove_session(ctx: RequestContext, key: SessionKey, now: datetime) -> bool:
    """Removes the session; False when there was none (or it had expired)."""
    with ctx.storage.database.engine.begin() as connection:
        removed = connection.execute(delete(SESSIONS).where(key.where(), SESSIONS.c.expires_at > now))
        connection.execute(delete(SESSIONS).where(key.where()))
    return removed.rowcount > 0


def _key_columns(key: SessionKey) -> dict[str, str]:
    return {
        "account_id": key.account_id,
        "region": key.region,
        "bot_id": key.bot_id,
        "bot_alias_id": key.bot_alias_id,
        "locale_id": key.locale_id,
        "session_id": key.session_id,
    }


def _concurrent(key: SessionKey) -> Exception:
    return conflict(f"Session {key.session_id} was changed by another request at the same time. Try again.")
