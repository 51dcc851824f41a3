"""Understanding a bot locale with the NLU engine: its trained intent classifier (loaded once per
model file and shared) and slot extraction over the intent's sample utterances and slot types."""

from __future__ import annotations

from datetime import datetime
from functools import cache
from pathlib import Path
from typing import Any

from nimbus.engines.nlu import IntentClassifier
from nimbus.engines.nlu.custom_types import SlotTypeSpec, SlotTypeValue
from nimbus.engines.nlu.slots import SlotSpec, extract_slots
from nimbus.services.lexv2_runtime.bot_locale import BotLocale
from nimbus.services.lexv2_runtime.understanding import IntentScores


@cache
def _classifier(path: str) -> IntentClassifier:
    return IntentClassifier.load(Path(path))


class LocaleUnderstanding:
    def __init__(self, bot: BotLocale, now: datetime) -> None:
        self.bot = bot
        self.now = now
        self.types = {spec.name: spec for spec in map(slot_type_spec, bot.slot_types())}
        self._type_names = {item["slotTypeId"]: item["slotTypeName"] for item in bot.slot_types()}

    def classify(self, text: str) -> IntentScores:
        return _classifier(str(self.bot.snapshot["nluModelPath"])).predict(text)

    def slot_values(self, intent_name: str, text: str, only: str | None) -> dict[str, dict[str, Any]]:
        slots = [
            SlotSpec(slot["slotName"], self._type_names.get(slot["slotTypeId"], slot["slotTypeId"]))
            for slot in self.bot.slots(intent_name)
        ]
        if not slots:
            return {}
        templates = [item["utterance"] for item in self.bot.intent(intent_name).get("sampleUtterances") or []]
        found = extract_slots(
            text, templates, slots, self.types, now=self.now, locale=self.bot.locale_id, only=only
        )
        return {
            name: {
                "value": {
                    "originalValue": value.original,
                    "interpretedValue": value.interpreted,
                    "resolvedValues": list(value.resolved),
                },
                "shape": "Scalar",
            }
            for name, value in found.items()
        }


def slot_type_spec(described: dict[str, Any]) -> SlotTypeSpec:
    """A DescribeSlotType output as the NLU engine's custom slot type."""
    values = tuple(
        SlotTypeValue(
            item["sampleValue"]["value"], tuple(synonym["value"] for synonym in item.get("synonyms") or [])
        )
        for item in described.get("slotTypeValues") or []
    )
    strategy = (described.get("valueSelectionSetting") or {}).get("resolutionStrategy")
    return SlotTypeSpec(described["slotTypeName"], values, restrict=strategy != "OriginalValue")


def understanding_for(bot: BotLocale, now: datetime) -> LocaleUnderstanding:
    return LocaleUnderstanding(bot, now)
