"""Lex V2 pages: bots, their locales (intents, slots, slot types, build status), aliases and versions,
and a test chat for any alias with an inspector of the last turn: ranked interpretations, the
intent's slots, the dialog action and the session attributes."""

from __future__ import annotations

import base64
import gzip
import json
import secrets
from typing import Any

from nimbus.console.web import ConsoleRequest, Done, Page, get, post, url

PAGE_SIZE = 100
DRAFT = "DRAFT"
TEST_ALIAS = "TSTALIASID"
# RecognizeUtterance sends these answers in HTTP headers as base64 of gzipped JSON (or text)
PACKED_MEMBERS = ("messages", "sessionState", "interpretations", "requestAttributes", "inputTranscript")


def bots(ctx: ConsoleRequest) -> Page:
    found, following = ctx.one_page(
        ctx.client("lexv2-models").list_bots, "botSummaries", "nextToken", maxResults=PAGE_SIZE
    )
    data = {"bots": found, "next": following}
    return Page("lex_bots.html", data, title="Lex bots")


def bot(ctx: ConsoleRequest) -> Page:
    bot_id = ctx.path("bot")
    models = ctx.client("lexv2-models")
    described = models.describe_bot(botId=bot_id)
    described.pop("ResponseMetadata", None)
    data = {
        "bot": described,
        "locales": models.list_bot_locales(botId=bot_id, botVersion=DRAFT, maxResults=PAGE_SIZE).get(
            "botLocaleSummaries", []
        ),
        "aliases": models.list_bot_aliases(botId=bot_id, maxResults=PAGE_SIZE).get("botAliasSummaries", []),
        "versions": models.list_bot_versions(botId=bot_id, maxResults=PAGE_SIZE).get(
            "botVersionSummaries", []
        ),
    }
    return Page("lex_bot.html", data, title=described["botName"])


def locale(ctx: ConsoleRequest) -> Page:
    bot_id, locale_id = ctx.path("bot"), ctx.path("locale")
    version = ctx.query("version") or DRAFT
    models = ctx.client("lexv2-models")
    where = {"botId": bot_id, "botVersion": version, "localeId": locale_id}
    described = models.describe_bot_locale(**where)
    described.pop("ResponseMetadata", None)
    intents = models.list_intents(**where, maxResults=PAGE_SIZE).get("intentSummaries", [])
    slots = {
        intent["intentId"]: models.list_slots(**where, intentId=intent["intentId"], maxResults=PAGE_SIZE).get(
            "slotSummaries", []
        )
        for intent in intents
    }
    data = {
        "bot_id": bot_id,
        "version": version,
        "locale": described,
        "intents": intents,
        "slots": slots,
        "slot_types": models.list_slot_types(**where, maxResults=PAGE_SIZE).get("slotTypeSummaries", []),
    }
    return Page("lex_locale.html", data, title=f"{bot_id} {locale_id}")


def build(ctx: ConsoleRequest) -> Done:
    bot_id, locale_id = ctx.path("bot"), ctx.path("locale")
    ctx.client("lexv2-models").build_bot_locale(botId=bot_id, botVersion=DRAFT, localeId=locale_id)
    return Done(url(f"/lex/{bot_id}/locales/{locale_id}"), f"Building {locale_id}.")


def chat(ctx: ConsoleRequest, turn: dict[str, Any] | None = None) -> Page:
    bot_id = ctx.path("bot")
    models = ctx.client("lexv2-models")
    aliases = models.list_bot_aliases(botId=bot_id, maxResults=PAGE_SIZE).get("botAliasSummaries", [])
    locales = models.list_bot_locales(botId=bot_id, botVersion=DRAFT, maxResults=PAGE_SIZE).get(
        "botLocaleSummaries", []
    )
    data = {
        "bot_id": bot_id,
        "aliases": aliases,
        "locales": locales,
        "alias": ctx.query("alias") or ctx.field("alias") or TEST_ALIAS,
        "locale_id": ctx.query("locale")
        or ctx.field("locale")
        or (locales[0]["localeId"] if locales else "en_US"),
        "session_id": ctx.query("session") or ctx.field("session") or secrets.token_hex(8),
        "turn": turn,
    }
    return Page("lex_chat.html", data, title="Test chat", fragment="lex_turn.html")


def say(ctx: ConsoleRequest) -> Page:
    """One turn: typed text (RecognizeText) or an uploaded recording (RecognizeUtterance)."""
    where = {
        "botId": ctx.path("bot"),
        "botAliasId": ctx.field("alias"),
        "localeId": ctx.field("locale"),
        "sessionId": ctx.field("session"),
    }
    runtime = ctx.client("lexv2-runtime")
    recording = ctx.upload("audio")
    if recording is not None:
        _, content_type, body = recording
        answer = runtime.recognize_utterance(
            **where,
            requestContentType=content_type or "audio/wav",
            responseContentType="text/plain; charset=utf-8",
            inputStream=body,
        )
        answer = {name: _unpacked(name, answer[name]) for name in PACKED_MEMBERS if answer.get(name)}
    else:
        answer = runtime.recognize_text(**where, text=ctx.field("text"))
    answer.pop("ResponseMetadata", None)
    said = answer.get("inputTranscript") or ctx.field("text")
    return chat(ctx, {"said": said, "answer": answer})


def _unpacked(name: str, value: str) -> Any:
    text = gzip.decompress(base64.b64decode(value)).decode()
    return text if name == "inputTranscript" else json.loads(text)  # the transcript is plain text


def reset(ctx: ConsoleRequest) -> Done:
    bot_id = ctx.path("bot")
    alias, locale_id = ctx.field("alias"), ctx.field("locale")
    ctx.client("lexv2-runtime").delete_session(
        botId=bot_id, botAliasId=alias, localeId=locale_id, sessionId=ctx.field("session")
    )
    return Done(url(f"/lex/{bot_id}/chat", alias=alias, locale=locale_id), "The session was reset.")


def missed(ctx: ConsoleRequest) -> Page:
    """Utterances an alias did not understand in the last 24 hours (Lex's aggregated utterances)."""
    bot_id, locale_id = ctx.path("bot"), ctx.path("locale")
    alias = ctx.query("alias") or TEST_ALIAS
    listed = ctx.client("lexv2-models").list_aggregated_utterances(
        botId=bot_id,
        botAliasId=alias,
        localeId=locale_id,
        aggregationDuration={"relativeAggregationDuration": {"timeDimension": "Hours", "timeValue": 24}},
        sortBy={"attribute": "MissedCount", "order": "Descending"},
        maxResults=PAGE_SIZE,
    )
    utterances = [item for item in listed.get("aggregatedUtterancesSummaries", []) if item.get("missedCount")]
    data = {"bot_id": bot_id, "locale_id": locale_id, "alias": alias, "utterances": utterances}
    return Page("lex_missed.html", data, title="Missed utterances")


ROUTES = [
    get("/lex", bots),
    get("/lex/{bot}", bot),
    get("/lex/{bot}/locales/{locale}", locale),
    post("/lex/{bot}/locales/{locale}/build", build),
    get("/lex/{bot}/locales/{locale}/missed", missed),
    get("/lex/{bot}/chat", chat),
    post("/lex/{bot}/chat", say),
    post("/lex/{bot}/chat/reset", reset),
]
