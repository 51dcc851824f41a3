"""Custom slot types of a DRAFT locale: create, describe, update, list, delete."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from nimbus.services.lexv2_models import lexv2_models
from nimbus.services.lexv2_models.errors import conflict, invalid, precondition_failed
from nimbus.services.lexv2_models.paging import filtered, page, sorted_by
from nimbus.services.lexv2_models.records import (
    definition_changed,
    find_locale,
    find_slot_type,
    new_id,
    now,
    output_of,
    slot_type_rows,
    slot_type_shape,
    summary_of,
    transaction,
)
from nimbus.services.registry import RequestContext
from nimbus.storage.lex_schema import LexSlotRecord, LexSlotTypeRecord

_KEYS = ("botId", "botVersion", "localeId", "slotTypeId", "slotTypeName")


def slot_type_definition(request: dict[str, Any]) -> dict[str, Any]:
    return {name: value for name, value in request.items() if name not in _KEYS}


def slot_type_category(slot_type: dict[str, Any]) -> str:
    if slot_type.get("compositeSlotTypeSetting"):
        return "Composite"
    if slot_type.get("externalSourceSetting"):
        return "ExternalGrammar"
    return "Extended" if slot_type.get("parentSlotTypeSignature") else "Custom"


def _require_free_name(session: Session, request: dict[str, Any], slot_type_id: str | None = None) -> None:
    if request["slotTypeName"].startswith("AMAZON."):
        raise invalid(
            "Custom slot type names cannot start with 'AMAZON.': that prefix names built-in slot types."
        )
    query = select(func.count()).where(
        LexSlotTypeRecord.bot_id == request["botId"],
        LexSlotTypeRecord.bot_version == request["botVersion"],
        LexSlotTypeRecord.locale_id == request["localeId"],
        LexSlotTypeRecord.slot_type_name == request["slotTypeName"],
        LexSlotTypeRecord.slot_type_id != (slot_type_id or ""),
    )
    if session.scalar(query):
        raise conflict(
            f"A slot type with the name '{request['slotTypeName']}' already exists in this locale."
        )


@lexv2_models.operation
def create_slot_type(ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
    with transaction(ctx) as session:
        find_locale(session, ctx, request["botId"], request["botVersion"], request["localeId"])
        _require_free_name(session, request)
        definition_changed(session, ctx, request["botId"], request["localeId"])
        when = now()
        slot_type = LexSlotTypeRecord(
            bot_id=request["botId"],
            bot_version=request["botVersion"],
            locale_id=request["localeId"],
            slot_type_id=new_id(),
            slot_type_name=request["slotTypeName"],
            definition=slot_type_definition(request),
            created_at=when,
            updated_at=when,
        )
        session.add(slot_type)
        return output_of("CreateSlotType", slot_type_shape(slot_type))


@lexv2_models.operation
def describe_slot_type(ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
    with transaction(ctx) as session:
        return output_of("DescribeSlotType", slot_type_shape(find_slot_type(session, ctx, request)))


@lexv2_models.operation
def update_slot_type(ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
    with transaction(ctx) as session:
        slot_type = find_slot_type(session, ctx, request)
        _require_free_name(session, request, slot_type.slot_type_id)
        definition_changed(session, ctx, request["botId"], request["localeId"])
        slot_type.slot_type_name = request["slotTypeName"]
        slot_type.definition = slot_type_definition(request)
        slot_type.updated_at = now()
        return output_of("UpdateSlotType", slot_type_shape(slot_type))


@lexv2_models.operation
def list_slot_types(ctx: RequestContext, request: dict[str, Any]) -> dict[str, Any]:
    with transaction(ctx) as session:
        locale = find_locale(session, ctx, request["botId"], request["botVersion"], request["localeId"])
        summaries = [
            summary_of("SlotTypeSummary", {**shape, "slotTypeCategory": slot_type_category(shape)})
            for shape in map(slot_type_shape, slot_type_rows(session, locale))
        ]
    summaries = filtered(summaries, request.get("filters"), {"SlotTypeName": "slotTypeName"})
    members = {"SlotTypeName": "slotTypeName", "LastUpdatedDateTime": "lastUpdatedDateTime"}
    summaries = sorted_by(summaries, request.get("sortBy"), members, "slotTypeName")
    keys = {name: request[name] for name in ("botId", "botVersion", "localeId")}
    return {**keys, **page(summaries, request, "slotTypeSummaries")}


@lexv2_models.operation
def delete_slot_type(ctx: RequestContext, request: dict[str, Any]) -> None:
    with transaction(ctx) as session:
        slot_type = find_slot_type(session, ctx, request)
        users = session.scalar(
            select(func.count()).where(
                LexSlotRecord.bot_id == slot_type.bot_id,
                LexSlotRecord.bot_version == slot_type.bot_version,
                LexSlotRecord.locale_id == slot_type.locale_id,
                LexSlotRecord.definition["slotTypeId"].as_string() == slot_type.slot_type_id,
            )
        )
        if users and not request.get("skipResourceInUseCheck"):
            raise precondition_failed(
                f"The slot type {slot_type.slot_type_id} is used by {users} slot(s); "
                "change them first or set skipResourceInUseCheck."
            )
        definition_changed(session, ctx, request["botId"], request["localeId"])
        session.delete(slot_type)
