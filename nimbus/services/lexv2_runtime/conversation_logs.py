"""Conversation logs, as Lex keeps them: every turn goes to Nimbus's conversation log (what the
analytics operations read), and, where the alias's ``conversationLogSettings`` ask for it, to a
CloudWatch Logs group as Lex's JSON text log and, for speech, to an S3 bucket as a WAV audio log.

Slots whose ``obfuscationSetting`` is ``DefaultObfuscation`` are logged as ``{SlotName}``: their value
is replaced in the slots and in the transcript, as Lex does. Text logs go to the log stream
``<logPrefix><botId>/<botAliasId>/<botVersion>/<localeId>``; audio logs to
``<logPrefix><botId>/<botAliasId>/<localeId>/<sessionId>/<requestId>.wav``."""

from __future__ import annotations

import copy
import io
import json
from datetime import datetime
from typing import Any

from sqlalchemy import insert

from nimbus.services.lexv2_runtime.bot_locale import BotLocale
from nimbus.services.lexv2_runtime.dialog import Conversation, Utterance
from nimbus.services.logs.records import append_events
from nimbus.services.registry import RequestContext
from nimbus.services.s3.objects import put_object
from nimbus.storage.lex_workbench_schema import LexConversationTurnRecord

TURNS = LexConversationTurnRecord.__table__
MESSAGE_VERSION = "2.0"


def log_turn(
    ctx: RequestContext,
    bot: BotLocale,
    utterance: Utterance,
    conversation: Conversation,
    missed: bool,
    channel: str,
) -> None:
    state = copy.deepcopy(conversation.session_state(utterance.now))
    intent = state.get("intent") or {}
    transcript = _obfuscated(bot, intent, utterance.text)
    with ctx.storage.database.engine.begin() as connection:
        connection.execute(
            insert(TURNS),
            {
                "account_id": ctx.caller.account_id,
                "region": ctx.region,
                "bot_id": bot.bot_id,
                "bot_alias_id": bot.alias_id,
                "bot_version": bot.bot_version,
                "locale_id": bot.locale_id,
                "session_id": utterance.session_id,
                "request_id": ctx.request_id,
                "channel": channel,
                "input_mode": utterance.input_mode,
                "utterance": transcript[:1024],
                "intent_name": intent.get("name"),
                "intent_state": intent.get("state"),
                "dialog_action": (state.get("dialogAction") or {}).get("type", ""),
                "slots": intent.get("slots") or {},
                "missed": missed,
                "recorded_at": utterance.now,
            },
        )
    settings = bot.alias.get("conversationLogSettings") or {}
    for text_log in settings.get("textLogSettings") or []:
        if text_log.get("enabled"):
            _write_text_log(ctx, bot, utterance, conversation, state, transcript, missed, text_log)
    for audio_log in settings.get("audioLogSettings") or []:
        if audio_log.get("enabled") and utterance.audio:
            _write_audio_log(ctx, bot, utterance, audio_log)


def _obfuscated(bot: BotLocale, intent: dict[str, Any], text: str) -> str:
    """Obfuscated slots' values replaced by ``{SlotName}`` (in ``intent`` and in the returned text)."""
    for name, slot in (intent.get("slots") or {}).items():
        known = intent.get("name") in bot.intents
        definition = (bot.slot(intent["name"], name) if known else None) or {}
        setting = (definition.get("obfuscationSetting") or {}).get("obfuscationSettingType")
        if setting != "DefaultObfuscation" or not slot:
            continue
        value = slot.get("value") or {}
        original = str(value.get("originalValue") or "")
        if original:
            text = text.replace(original, f"{{{name}}}")
        intent["slots"][name] = {
            **slot,
            "value": {
                "originalValue": f"{{{name}}}",
                "interpretedValue": f"{{{name}}}",
                "resolvedValues": [],
            },
        }
    return text


def _write_text_log(
    ctx: RequestContext,
    bot: BotLocale,
    utterance: Utterance,
    conversation: Conversation,
    state: dict[str, Any],
    transcript: str,
    missed: bool,
    setting: dict[str, Any],
) -> None:
    destination = setting["destination"]["cloudWatch"]
    group = destination["cloudWatchLogGroupArn"].split(":log-group:", 1)[-1].removesuffix(":*")
    stream = (
        f"{destination.get('logPrefix', '')}{bot.bot_id}/{bot.alias_id}/{bot.bot_version}/{bot.locale_id}"
    )
    record = {
        "messageVersion": MESSAGE_VERSION,
        "bot": {
            "id": bot.bot_id,
            "name": bot.bot_name,
            "aliasId": bot.alias_id,
            "aliasName": bot.alias_name,
            "localeId": bot.locale_id,
            "version": bot.bot_version,
        },
        "sessionId": utterance.session_id,
        "requestId": ctx.request_id,
        "timestamp": utterance.now.isoformat(),
        "inputMode": utterance.input_mode,
        "inputTranscript": transcript,
        "missedUtterance": missed,
        "sessionState": state,
        "interpretations": conversation.interpretations,
        "messages": conversation.messages,
        "requestAttributes": utterance.request_attributes,
    }
    line = json.dumps(record, default=_json_default, ensure_ascii=False)
    append_events(
        ctx.storage, ctx.caller.account_id, ctx.region, group, stream, [(_millis(utterance.now), line)]
    )


def _write_audio_log(
    ctx: RequestContext, bot: BotLocale, utterance: Utterance, setting: dict[str, Any]
) -> None:
    destination = setting["destination"]["s3Bucket"]
    bucket = destination["s3BucketArn"].split(":::", 1)[-1]
    key = (
        f"{destination.get('logPrefix', '')}{bot.bot_id}/{bot.alias_id}/{bot.locale_id}/"
        f"{utterance.session_id}/{ctx.request_id}.wav"
    )
    put_object(
        ctx, {"Bucket": bucket, "Key": key, "Body": io.BytesIO(utterance.audio), "ContentType": "audio/wav"}
    )


def _millis(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


def _json_default(value: Any) -> str:
    return value.isoformat() if isinstance(value, datetime) else str(value)
