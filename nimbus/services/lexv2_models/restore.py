"""Recreating a DRAFT locale from an archive: new ids for every intent, slot and slot type, with the
archive's name references turned back into ids."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from nimbus.services.lexv2_models.archive import LocaleArchive
from nimbus.services.lexv2_models.locales import FALLBACK_INTENT_ID, insert_locale
from nimbus.services.lexv2_models.records import DRAFT, new_id, now
from nimbus.services.registry import RequestContext
from nimbus.storage.lex_schema import LexIntentRecord, LexSlotRecord, LexSlotTypeRecord


def restore_locale(session: Session, ctx: RequestContext, bot_id: str, archive: LocaleArchive) -> None:
    settings = dict(archive.settings)
    threshold = settings.pop("nluConfidenceThreshold", settings.pop("nluIntentConfidenceThreshold", 0.4))
    insert_locale(
        session,
        ctx,
        bot_id,
        {**settings, "localeId": archive.locale_id, "nluIntentConfidenceThreshold": threshold},
    )
    session.flush()
    keys = {"bot_id": bot_id, "bot_version": DRAFT, "locale_id": archive.locale_id}
    when = now()
    type_ids: dict[str, str] = {}
    for name, definition in archive.slot_types.items():
        type_ids[name] = new_id()
        session.add(
            LexSlotTypeRecord(
                **keys,
                slot_type_id=type_ids[name],
                slot_type_name=name,
                definition=definition,
                created_at=when,
                updated_at=when,
            )
        )
    for name, definition in archive.intents.items():
        intent_id = _intent_id(definition)
        slot_ids = {slot_name: new_id() for slot_name in archive.slots.get(name, {})}
        priorities = [
            {"priority": entry["priority"], "slotId": slot_ids[entry["slotName"]]}
            for entry in definition.get("slotPriorities", [])
            if entry.get("slotName") in slot_ids
        ]
        intent = session.get(LexIntentRecord, (bot_id, DRAFT, archive.locale_id, intent_id))
        if intent is None:
            intent = LexIntentRecord(**keys, intent_id=intent_id, created_at=when)
            session.add(intent)
        intent.intent_name = name
        intent.definition = {**definition, "slotPriorities": priorities}
        intent.updated_at = when
        session.flush()
        for slot_name, slot in archive.slots.get(name, {}).items():
            session.add(
                LexSlotRecord(
                    **keys,
                    intent_id=intent_id,
                    slot_id=slot_ids[slot_name],
                    slot_name=slot_name,
                    definition=_slot_definition(slot, type_ids),
                    created_at=when,
                    updated_at=when,
                )
            )


def _intent_id(definition: dict[str, Any]) -> str:
    """The fallback intent keeps the id the new locale gave it; every other intent gets a new one."""
    return (
        FALLBACK_INTENT_ID if definition.get("parentIntentSignature") == "AMAZON.FallbackIntent" else new_id()
    )


def _slot_definition(slot: dict[str, Any], type_ids: dict[str, str]) -> dict[str, Any]:
    definition = {name: value for name, value in slot.items() if name != "slotTypeName"}
    type_name = slot.get("slotTypeName")
    if type_name is not None:
        definition["slotTypeId"] = type_ids.get(type_name, type_name)  # built-ins keep their AMAZON.* names
    return definition
