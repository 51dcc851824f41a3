"""Every utterance a bot hears is recorded: missed when it activated no intent and filled no slot
(it fell to FallbackIntent or a prompt was asked again), a hit otherwise."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import insert

from nimbus.services.lexv2_runtime.bot_locale import BotLocale
from nimbus.services.registry import RequestContext
from nimbus.storage.lex_runtime_schema import LexUtteranceRecord

UTTERANCES = LexUtteranceRecord.__table__


def record_utterance(ctx: RequestContext, bot: BotLocale, text: str, missed: bool, when: datetime) -> None:
    row = {
        "account_id": ctx.caller.account_id,
        "region": ctx.region,
        "bot_id": bot.bot_id,
        "bot_alias_id": bot.alias_id,
        "bot_version": bot.bot_version,
        "locale_id": bot.locale_id,
        "utterance": text,
        "missed": missed,
        "recorded_at": when,
    }
    with ctx.storage.database.engine.begin() as connection:
        connection.execute(insert(UTTERANCES), row)
