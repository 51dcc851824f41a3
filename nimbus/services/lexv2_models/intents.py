"""Intents of a DRAFT locale: create, describe, update, list, delete."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from nimbus.services.lexv2_models import lexv2_models
from nimbus.services.lexv2_models.errors import conflict, invalid
from nimbus.services.lexv2_models.locales import FALLBACK_INTENT_ID
from nimbus.services.lexv2_models.paging import filtered, page, sorted_by
from nimbus.services.lexv2_models.records import (
    definition_changed,
    find_intent,
    find_locale,
    intent_rows,
    intent_shape,
    new_id,
    now,
    output_of,
    summary_of,
    transaction,
)
from nimbus.services.registry import RequestContext
from nimbus.storage.lex_schema import LexIntentRecord

_KEYS = ("botId", "botVersion", "localeId", "intentId", "intentName")


def intent_definition(request: dict[str, Any]) -> dict[str, Any]:
    return {name: value for name, value in request.items() if name not in _KEYS}


def _require_free_name(session: Session, request: dict[str, Any], intent_id: str | None = None) -> None:
    query = select(func.count()).where(
        LexIntentRecord.bot_id == request["botId"],
        LexIntentRecord.bot_version == request["botVersion"],
        LexIntentRecord.locale_id == request["localeId"],
        LexIntentRecord.intent_name == request["intentName"],
        LexIntentRecord.intent_id != (intent_id or ""),
    )
    if session.scalar(query):
        raise conflict(f"An intent with the name '{request['intentName']}' already exists in this locale.")


@lexv2_models.operation
def create_intent(ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
    with transaction(ctx) as session:
        find_locale(session, ctx, request["botId"], request["botVersion"], request["localeId"])
        _require_free_name(session, request)
        definition_changed(session, ctx, request["botId"], request["localeId"])
        when = now()
        intent = LexIntentRecord(
            bot_id=request["botId"],
            bot_version=request["botVersion"],
            locale_id=request["localeId"],
            intent_id=new_id(),
            intent_name=request["intentName"],
            definition={**intent_definition(request), "slotPriorities": []},
            created_at=when,
            updated_at=when,
        )
        session.add(intent)
        return output_of("CreateIntent", intent_shape(intent))


@lexv2_models.operation
def describe_intent(ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
    with transaction(ctx) as session:
        return output_of("DescribeIntent", intent_shape(find_intent(session, ctx, request)))


@lexv2_models.operation
def update_intent(ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
    """slotPriorities left out of the request keep their current value rather than being cleared."""
    with transaction(ctx) as session:
        intent = find_intent(session, ctx, request)
        _require_free_name(session, request, intent.intent_id)
        definition_changed(session, ctx, request["botId"], request["localeId"])
        priorities = request.get("slotPriorities", intent.definition.get("slotPriorities", []))
        intent.intent_name = request["intentName"]
        intent.definition = {**intent_definition(request), "slotPriorities": priorities}
        intent.updated_at = now()
        return output_of("UpdateIntent", intent_shape(intent))


@lexv2_models.operation
def list_intents(ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
    with transaction(ctx) as session:
        locale = find_locale(session, ctx, request["botId"], request["botVersion"], request["localeId"])
        summaries = [
            summary_of("IntentSummary", intent_shape(intent)) for intent in intent_rows(session, locale)
        ]
    summaries = filtered(summaries, request.get("filters"), {"IntentName": "intentName"})
    members = {"IntentName": "intentName", "LastUpdatedDateTime": "lastUpdatedDateTime"}
    summaries = sorted_by(summaries, request.get("sortBy"), members, "intentName")
    keys = {name: request[name] for name in ("botId", "botVersion", "localeId")}
    return {**keys, **page(summaries, request, "intentSummaries")}


@lexv2_models.operation
def delete_intent(ctx: RequestContext, request: dict[str, Any]) -> None:
    with transaction(ctx) as session:
        intent = find_intent(session, ctx, request)
        if intent.intent_id == FALLBACK_INTENT_ID:
            raise invalid("The fallback intent cannot be deleted.")
        definition_changed(session, ctx, request["botId"], request["localeId"])
        session.delete(intent)  # its slots go with it
