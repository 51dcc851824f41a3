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
from nimbus.engines.nlu.values import SlotValue
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

    def slot_values(
        self, intent_name: str, text: str, only: str | None, hints: dict[str, list[str]]
    ) -> dict[str, dict[str, Any]]:
        specs: list[SlotSpec] = []
        composites: dict[str, list[str]] = {}
        for slot in self.bot.slots(intent_name):
            name = slot["slotName"]
            sub_slots = self.bot.sub_slots(intent_name, name)
            if sub_slots:
                composites[name] = list(sub_slots)
                specs += [SlotSpec(f"{name}.{sub}", self._type_name(spec)) for sub, spec in sub_slots.items()]
            else:
                multiple = bool((slot.get("multipleValuesSetting") or {}).get("allowMultipleValues"))
                specs.append(SlotSpec(name, self._type_name(slot), multiple))
        if only is not None and only in composites:  # the composite's prompt: any of its sub-slots
            specs = [spec for spec in specs if spec.name.startswith(f"{only}.")]
            only = None
        if not specs:
            return {}
        templates = [item["utterance"] for item in self.bot.intent(intent_name).get("sampleUtterances") or []]
        found = extract_slots(
            text,
            templates,
            specs,
            self.types,
            now=self.now,
            locale=self.bot.locale_id,
            only=only,
            hints=hints,
        )
        slots = {name: _slot_shape(value) for name, value in found.items() if "." not in name}
        for name, sub_names in composites.items():
            sub_slots = {
                sub: _slot_shape(found[f"{name}.{sub}"]) for sub in sub_names if f"{name}.{sub}" in found
            }
            if sub_slots:
                slots[name] = {"shape": "Composite", "subSlots": sub_slots}
        return slots

    def _type_name(self, slot: dict[str, Any]) -> str:
        type_id = str(slot.get("slotTypeId") or "")
        return self._type_names.get(type_id, type_id)


def _slot_shape(value: SlotValue) -> dict[str, Any]:
    """The runtime Slot shape of a value: Scalar, or List with each value for a multi-value slot."""
    shape: dict[str, Any] = {
        "value": {
            "originalValue": value.original,
            "interpretedValue": value.interpreted,
            "resolvedValues": list(value.resolved),
        },
        "shape": "List" if value.values else "Scalar",
    }
    if value.values:
        shape["values"] = [_slot_shape(item) for item in value.values]
    return shape


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
