"""Bot-defined responses to runtime messages: one message per message group (the message or one of
its variations), with ``{SlotName}`` references replaced by the slot's value."""

from __future__ import annotations

import random
import re
from typing import Any

_SLOT_REFERENCE = re.compile(r"\{([A-Za-z0-9_]+)\}")


def response_messages(
    specification: dict[str, Any] | None, slots: dict[str, Any], *, ordered: bool = False
) -> list[dict[str, Any]]:
    """The messages of a ResponseSpecification or PromptSpecification (None gives none)."""
    if not specification:
        return []
    ordered = ordered or specification.get("messageSelectionStrategy") == "Ordered"
    return [
        _runtime_message(_pick(group, ordered), slots) for group in specification.get("messageGroups") or []
    ]


def _pick(group: dict[str, Any], ordered: bool) -> dict[str, Any]:
    choices = [group["message"], *(group.get("variations") or [])]
    return choices[0] if ordered else random.choice(choices)


def _runtime_message(message: dict[str, Any], slots: dict[str, Any]) -> dict[str, Any]:
    if "plainTextMessage" in message:
        return {
            "contentType": "PlainText",
            "content": fill_slot_references(message["plainTextMessage"]["value"], slots),
        }
    if "ssmlMessage" in message:
        return {
            "contentType": "SSML",
            "content": fill_slot_references(message["ssmlMessage"]["value"], slots),
        }
    if "customPayload" in message:
        return {"contentType": "CustomPayload", "content": message["customPayload"]["value"]}
    card = message["imageResponseCard"]
    return {"contentType": "ImageResponseCard", "imageResponseCard": card}


def fill_slot_references(text: str, slots: dict[str, Any]) -> str:
    """``{PickupDate}`` becomes the slot's interpreted value; unknown or empty slots stay as written."""

    def value(match: re.Match[str]) -> str:
        slot = slots.get(match.group(1)) or {}
        interpreted = (slot.get("value") or {}).get("interpretedValue")
        return str(interpreted) if interpreted is not None else match.group(0)

    return _SLOT_REFERENCE.sub(value, text)
