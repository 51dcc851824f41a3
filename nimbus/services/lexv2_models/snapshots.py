"""What lexv2-runtime reads: a built locale of a bot version as one dict, and an alias.

``load_locale_snapshot`` answers ``{"bot", "locale", "intents", "slotTypes", "nluModelPath"}``:
DescribeBot's output (with ``botVersion`` set to the version asked for), DescribeBotLocale's,
DescribeIntent's for every intent with ``"slots"`` holding DescribeSlot's for its slots (in
slotPriorities order), DescribeSlotType's for every custom slot type, and the path of the trained
``nimbus.engines.nlu.IntentClassifier`` (its labels are intent names). Botocore member names
throughout, timestamps as datetimes. DRAFT is a version like the numbered ones."""

from __future__ import annotations

from typing import Any

from nimbus.errors import AwsError
from nimbus.services.lexv2_models.records import (
    alias_shape,
    bot_shape,
    find_alias,
    find_bot,
    find_locale,
    find_version,
    intent_rows,
    intent_shape,
    locale_shape,
    output_of,
    slot_rows,
    slot_shape,
    slot_type_rows,
    slot_type_shape,
    transaction,
)
from nimbus.services.registry import RequestContext


class LocaleNotBuilt(AwsError):
    """The locale exists but has no usable build (NotBuilt, Building or Failed)."""

    def __init__(self, bot_id: str, bot_version: str, locale_id: str, status: str) -> None:
        super().__init__(
            "PreconditionFailedException",
            f"The locale {locale_id} of bot {bot_id} version {bot_version} is {status}; build it first.",
            412,
        )
        self.locale_status = status


def load_locale_snapshot(
    ctx: RequestContext, bot_id: str, bot_version: str, locale_id: str
) -> dict[str, Any]:
    """The built locale; ResourceNotFoundException when the bot, version or locale is missing,
    LocaleNotBuilt when it is not built."""
    with transaction(ctx) as session:
        bot = find_bot(session, ctx, bot_id)
        version = find_version(session, ctx, bot_id, bot_version)
        locale = find_locale(session, ctx, bot_id, bot_version, locale_id)
        if locale.locale_status != "Built" or locale.model_path is None:
            raise LocaleNotBuilt(bot_id, bot_version, locale_id, locale.locale_status)
        bot_output = bot_shape(bot) if version is None else {**bot_shape(bot), **version.definition}
        intents = []
        for intent in intent_rows(session, locale):
            order = {
                entry["slotId"]: entry["priority"] for entry in intent.definition.get("slotPriorities", [])
            }
            slots = sorted(
                slot_rows(session, intent), key=lambda slot: order.get(slot.slot_id, len(order) + 1)
            )
            slot_outputs = [output_of("DescribeSlot", slot_shape(slot)) for slot in slots]
            intents.append({**output_of("DescribeIntent", intent_shape(intent)), "slots": slot_outputs})
        return {
            "bot": {**output_of("DescribeBot", bot_output), "botVersion": bot_version},
            "locale": output_of("DescribeBotLocale", locale_shape(session, locale)),
            "intents": intents,
            "slotTypes": [
                output_of("DescribeSlotType", slot_type_shape(row)) for row in slot_type_rows(session, locale)
            ],
            "nluModelPath": locale.model_path,
        }


def resolve_alias(ctx: RequestContext, bot_id: str, bot_alias_id: str) -> dict[str, Any]:
    """DescribeBotAlias's output for the alias; ResourceNotFoundException when the bot or alias is missing."""
    with transaction(ctx) as session:
        return output_of("DescribeBotAlias", alias_shape(find_alias(session, ctx, bot_id, bot_alias_id)))
