"""Lex V2's conversation paths: the next step a bot's definition names after a response (a
``DialogState``), chosen by conditional branches, and the slot values and session attributes a step
sets. The dialog carries the chosen step out; this module only reads definitions and values."""

from __future__ import annotations

import re
from typing import Any

from nimbus.services.lexv2_runtime.conditions import ExpressionError, Resolver, evaluate
from nimbus.services.lexv2_runtime.errors import validation

_REFERENCE = re.compile(r"^\{([\w.]+)\}$|^\[([^\[\]]+)\]$")


def slot_values(slot: dict[str, Any] | None) -> list[str]:
    """A runtime slot's interpreted values: one, several for a multi-value slot, none when empty."""
    if not slot:
        return []
    if slot.get("shape") == "List":
        return [value for item in slot.get("values") or [] for value in slot_values(item)]
    interpreted = (slot.get("value") or {}).get("interpretedValue")
    return [str(interpreted)] if interpreted is not None else []


def resolver(
    slots: dict[str, Any],
    attributes: dict[str, str],
    request_attributes: dict[str, str],
    turn: dict[str, str],
) -> Resolver:
    """References in condition expressions: ``{Slot}``, ``{Slot.SubSlot}``, ``[attribute]``,
    ``((requestAttribute))``, ``$.inputMode`` and ``$.inputTranscript``."""

    def resolve(reference: str) -> list[str]:
        if reference.startswith("{"):
            name, _, sub = reference[1:-1].partition(".")
            slot = slots.get(name) or {}
            return slot_values((slot.get("subSlots") or {}).get(sub) if sub else slot)
        if reference.startswith("(("):
            value = request_attributes.get(reference[2:-2])
        elif reference.startswith("["):
            value = attributes.get(reference[1:-1])
        elif reference.startswith("$."):
            value = turn.get(reference[2:])
        else:
            return slot_values(slots.get(reference))
        return [value] if value is not None else []

    return resolve


def chosen_branch(
    conditional: dict[str, Any] | None, resolve: Resolver
) -> tuple[dict[str, Any] | None, dict[str, Any] | None] | None:
    """The (response, nextStep) of the first branch whose condition holds, else the default branch's;
    None when there is no active conditional."""
    if not conditional or not conditional.get("active", True):
        return None
    for branch in conditional.get("conditionalBranches") or []:
        expression = branch["condition"]["expressionString"]
        try:
            holds = evaluate(expression, resolve)
        except ExpressionError as error:
            raise validation(f"The condition of branch {branch['name']} cannot be read: {error}") from None
        if holds:
            return branch.get("response"), branch.get("nextStep")
    default = conditional.get("defaultBranch") or {}
    return default.get("response"), default.get("nextStep")


def overridden_slots(
    slots: dict[str, Any], overrides: dict[str, Any], attributes: dict[str, str]
) -> dict[str, Any]:
    """The slots with a step's values set (an override without a value empties the slot). A value may
    name another slot ``{Slot}`` or a session attribute ``[attribute]``."""
    changed = dict(slots)
    for name, override in overrides.items():
        written = ((override or {}).get("value") or {}).get("interpretedValue")
        value = _dereferenced(written, slots, attributes) if written is not None else None
        if value is None:
            changed.pop(name, None)
        else:
            changed[name] = scalar_slot(value)
    return changed


def _dereferenced(written: str, slots: dict[str, Any], attributes: dict[str, str]) -> str | None:
    match = _REFERENCE.match(written)
    if match is None:
        return written
    if match.group(1):
        values = slot_values(slots.get(match.group(1)))
        return values[0] if values else None
    return attributes.get(match.group(2))


def scalar_slot(value: str) -> dict[str, Any]:
    return {
        "value": {"originalValue": value, "interpretedValue": value, "resolvedValues": [value]},
        "shape": "Scalar",
    }
