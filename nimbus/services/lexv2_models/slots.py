"""Slots of an intent: create (appended to the intent's slotPriorities), describe, update, list, delete."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from nimbus.engines.nlu import builtin_types_for
from nimbus.services.lexv2_models import lexv2_models
from nimbus.services.lexv2_models.errors import conflict, invalid
from nimbus.services.lexv2_models.paging import filtered, page, sorted_by
from nimbus.services.lexv2_models.records import (
    definition_changed,
    find_intent,
    find_slot,
    new_id,
    now,
    output_of,
    slot_rows,
    slot_shape,
    summary_of,
    transaction,
)
from nimbus.services.registry import RequestContext
from nimbus.storage.lex_schema import LexSlotRecord

_KEYS = ("botId", "botVersion", "localeId", "intentId", "slotId", "slotName")


def slot_definition(request: dict[str, Any]) -> dict[str, Any]:
    return {name: value for name, value in request.items() if name not in _KEYS}


def _require_locale_type(request: dict[str, Any]) -> None:
    """A built-in slot type the locale's language does not have is refused (ValidationException)."""
    slot_type = str(request.get("slotTypeId") or "")
    available = builtin_types_for(request["localeId"])
    if slot_type.upper().startswith("AMAZON.") and slot_type.lower() not in {t.lower() for t in available}:
        raise invalid(
            f"The built-in slot type {slot_type} is not supported in the locale {request['localeId']}. "
            f"Built-in slot types supported there: {', '.join(sorted(available))}."
        )


def _require_free_name(session: Session, request: dict[str, Any], slot_id: str | None = None) -> None:
    query = select(func.count()).where(
        LexSlotRecord.bot_id == request["botId"],
        LexSlotRecord.bot_version == request["botVersion"],
        LexSlotRecord.locale_id == request["localeId"],
        LexSlotRecord.intent_id == request["intentId"],
        LexSlotRecord.slot_name == request["slotName"],
        LexSlotRecord.slot_id != (slot_id or ""),
    )
    if session.scalar(query):
        raise conflict(f"A slot with the name '{request['slotName']}' already exists in this intent.")


@lexv2_models.operation
def create_slot(ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
    """Outside English a locale has fewer built-in slot types (no AMAZON.Duration, FirstName or places;
    Time only in es, fr, de, it, pt, ja): a slot of another one is refused with ValidationException
    (UpdateSlot too)."""
    with transaction(ctx) as session:
        intent = find_intent(session, ctx, request)
        _require_locale_type(request)
        _require_free_name(session, request)
        definition_changed(session, ctx, request["botId"], request["localeId"])
        when = now()
        slot = LexSlotRecord(
            bot_id=intent.bot_id,
            bot_version=intent.bot_version,
            locale_id=intent.locale_id,
            intent_id=intent.intent_id,
            slot_id=new_id(),
            slot_name=request["slotName"],
            definition=slot_definition(request),
            created_at=when,
            updated_at=when,
        )
        session.add(slot)
        priorities = list(intent.definition.get("slotPriorities", []))
        next_priority = max((entry["priority"] for entry in priorities), default=0) + 1
        priorities.append({"priority": next_priority, "slotId": slot.slot_id})
        intent.definition = {**intent.definition, "slotPriorities": priorities}
        intent.updated_at = when
        return output_of("CreateSlot", slot_shape(slot))


@lexv2_models.operation
def describe_slot(ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
    with transaction(ctx) as session:
        return output_of("DescribeSlot", slot_shape(find_slot(session, ctx, request)))


@lexv2_models.operation
def update_slot(ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
    """A built-in slot type the locale's language lacks is refused, as in CreateSlot."""
    with transaction(ctx) as session:
        slot = find_slot(session, ctx, request)
        _require_locale_type(request)
        _require_free_name(session, request, slot.slot_id)
        definition_changed(session, ctx, request["botId"], request["localeId"])
        slot.slot_name = request["slotName"]
        slot.definition = slot_definition(request)
        slot.updated_at = now()
        return output_of("UpdateSlot", slot_shape(slot))


@lexv2_models.operation
def list_slots(ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
    with transaction(ctx) as session:
        intent = find_intent(session, ctx, request)
        summaries = [
            summary_of("SlotSummary", _summary(slot_shape(slot))) for slot in slot_rows(session, intent)
        ]
    summaries = filtered(summaries, request.get("filters"), {"SlotName": "slotName"})
    members = {"SlotName": "slotName", "LastUpdatedDateTime": "lastUpdatedDateTime"}
    summaries = sorted_by(summaries, request.get("sortBy"), members, "slotName")
    keys = {name: request[name] for name in ("botId", "botVersion", "localeId", "intentId")}
    return {**keys, **page(summaries, request, "slotSummaries")}


def _summary(slot: dict[str, Any]) -> dict[str, Any]:
    elicitation = slot.get("valueElicitationSetting", {})
    return {
        **slot,
        "slotConstraint": elicitation.get("slotConstraint"),
        "valueElicitationPromptSpecification": elicitation.get("promptSpecification"),
    }


@lexv2_models.operation
def delete_slot(ctx: RequestContext, request: dict[str, Any]) -> None:
    with transaction(ctx) as session:
        slot = find_slot(session, ctx, request)
        intent = find_intent(session, ctx, request)
        definition_changed(session, ctx, request["botId"], request["localeId"])
        priorities = [
            entry for entry in intent.definition.get("slotPriorities", []) if entry["slotId"] != slot.slot_id
        ]
        intent.definition = {**intent.definition, "slotPriorities": priorities}
        intent.updated_at = now()
        session.delete(slot)
