"""Bot locales: create (with its AMAZON.FallbackIntent, as Lex does), describe, update, list, delete."""

from __future__ import annotations

import shutil
from typing import Any

from sqlalchemy.orm import Session

from nimbus.services.lexv2_models import lexv2_models
from nimbus.services.lexv2_models.errors import conflict, invalid
from nimbus.services.lexv2_models.locale_names import LOCALE_NAMES
from nimbus.services.lexv2_models.paging import filtered, page, sorted_by
from nimbus.services.lexv2_models.records import (
    DRAFT,
    add_locale_event,
    find_locale,
    find_version,
    locale_rows,
    locale_shape,
    models_dir,
    now,
    output_of,
    summary_of,
    transaction,
)
from nimbus.services.registry import RequestContext
from nimbus.storage.lex_schema import LexIntentRecord, LexLocaleRecord

FALLBACK_INTENT_ID = "FALLBCKINT"
FALLBACK_INTENT_NAME = "FallbackIntent"
_KEYS = ("botId", "botVersion", "localeId")


def locale_definition(request: dict[str, Any]) -> dict[str, Any]:
    return {name: value for name, value in request.items() if name not in _KEYS}


def insert_locale(
    session: Session, ctx: RequestContext, bot_id: str, request: dict[str, Any]
) -> LexLocaleRecord:
    """A new DRAFT locale holding only the fallback intent; ConflictException when it exists."""
    locale_id = request["localeId"]
    if locale_id not in LOCALE_NAMES:
        raise invalid(f"The locale '{locale_id}' is not supported. Use one of: {', '.join(LOCALE_NAMES)}.")
    find_version(session, ctx, bot_id, DRAFT)
    if session.get(LexLocaleRecord, (bot_id, DRAFT, locale_id)) is not None:
        raise conflict(f"The bot {bot_id} already has the locale {locale_id}.")
    when = now()
    locale = LexLocaleRecord(
        bot_id=bot_id,
        bot_version=DRAFT,
        locale_id=locale_id,
        locale_status="NotBuilt",
        failure_reasons=[],
        definition=locale_definition(request),
        created_at=when,
        updated_at=when,
    )
    session.add(locale)
    session.flush()
    session.add(
        LexIntentRecord(
            bot_id=bot_id,
            bot_version=DRAFT,
            locale_id=locale_id,
            intent_id=FALLBACK_INTENT_ID,
            intent_name=FALLBACK_INTENT_NAME,
            definition={
                "description": "Default intent when no other intent matches",
                "parentIntentSignature": "AMAZON.FallbackIntent",
            },
            created_at=when,
            updated_at=when,
        )
    )
    return locale


@lexv2_models.operation
def create_bot_locale(ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
    with transaction(ctx) as session:
        locale = insert_locale(session, ctx, request["botId"], request)
        session.flush()
        return output_of("CreateBotLocale", locale_shape(session, locale))


@lexv2_models.operation
def describe_bot_locale(ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
    with transaction(ctx) as session:
        locale = find_locale(session, ctx, request["botId"], request["botVersion"], request["localeId"])
        return output_of("DescribeBotLocale", locale_shape(session, locale))


@lexv2_models.operation
def update_bot_locale(ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
    with transaction(ctx) as session:
        locale = find_locale(session, ctx, request["botId"], request["botVersion"], request["localeId"])
        if locale.locale_status == "Building":
            raise conflict(f"The bot locale {locale.locale_id} is building; update it when the build ends.")
        history = locale.definition.get("botLocaleHistoryEvents", [])
        locale.definition = {**locale_definition(request), "botLocaleHistoryEvents": history}
        locale.updated_at = now()
        add_locale_event(locale, "Updated")
        return output_of("UpdateBotLocale", locale_shape(session, locale))


@lexv2_models.operation
def list_bot_locales(ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
    with transaction(ctx) as session:
        find_version(session, ctx, request["botId"], request["botVersion"])
        summaries = [
            summary_of("BotLocaleSummary", locale_shape(session, locale))
            for locale in locale_rows(session, request["botId"], request["botVersion"])
        ]
    summaries = filtered(summaries, request.get("filters"), {"BotLocaleName": "localeName"})
    summaries = sorted_by(summaries, request.get("sortBy"), {"BotLocaleName": "localeName"}, "localeName")
    return {
        "botId": request["botId"],
        "botVersion": request["botVersion"],
        **page(summaries, request, "botLocaleSummaries"),
    }


@lexv2_models.operation
def delete_bot_locale(ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
    """Deletion is immediate: the answer says Deleting and the locale is gone afterwards."""
    with transaction(ctx) as session:
        locale = find_locale(session, ctx, request["botId"], request["botVersion"], request["localeId"])
        if locale.locale_status == "Building":
            raise conflict(f"The bot locale {locale.locale_id} is building; delete it when the build ends.")
        session.delete(locale)  # its intents, slots and slot types go with it
    model = models_dir(ctx, request["botId"]) / request["botVersion"] / request["localeId"]
    shutil.rmtree(model, ignore_errors=True)
    return {
        "botId": request["botId"],
        "botVersion": request["botVersion"],
        "localeId": request["localeId"],
        "botLocaleStatus": "Deleting",
    }
