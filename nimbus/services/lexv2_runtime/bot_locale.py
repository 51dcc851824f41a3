"""The view of one built bot locale that a conversation needs: its intents, their slots in priority
order, prompts, code hook settings, the confidence threshold, and the alias's code hook endpoint.

Built from the lexv2-models snapshot (DescribeBot/DescribeBotLocale/DescribeIntent/DescribeSlot
outputs) and the DescribeBotAlias output."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import Any

FALLBACK_SIGNATURE = "AMAZON.FallbackIntent"
FALLBACK_INTENT = "FallbackIntent"
DEFAULT_CONFIDENCE_THRESHOLD = 0.40
DEFAULT_IDLE_SESSION_TTL = 300


@dataclass(frozen=True)
class BotLocale:
    snapshot: dict[str, Any]
    alias: dict[str, Any]

    @property
    def bot_id(self) -> str:
        return str(self.snapshot["bot"]["botId"])

    @property
    def bot_name(self) -> str:
        return str(self.snapshot["bot"].get("botName", ""))

    @property
    def bot_version(self) -> str:
        return str(self.alias.get("botVersion") or self.snapshot["locale"].get("botVersion", "DRAFT"))

    @property
    def alias_id(self) -> str:
        return str(self.alias.get("botAliasId", ""))

    @property
    def alias_name(self) -> str:
        return str(self.alias.get("botAliasName", ""))

    @property
    def locale_id(self) -> str:
        return str(self.snapshot["locale"]["localeId"])

    @property
    def confidence_threshold(self) -> float:
        threshold = self.snapshot["locale"].get("nluIntentConfidenceThreshold")
        return DEFAULT_CONFIDENCE_THRESHOLD if threshold is None else float(threshold)

    @property
    def idle_session_ttl(self) -> int:
        return int(self.snapshot["bot"].get("idleSessionTTLInSeconds") or DEFAULT_IDLE_SESSION_TTL)

    @cached_property
    def intents(self) -> dict[str, dict[str, Any]]:
        return {intent["intentName"]: intent for intent in self.snapshot["intents"]}

    @cached_property
    def fallback_intent(self) -> dict[str, Any]:
        for intent in self.snapshot["intents"]:
            if intent.get("parentIntentSignature") == FALLBACK_SIGNATURE:
                return intent
        return {"intentName": FALLBACK_INTENT, "parentIntentSignature": FALLBACK_SIGNATURE, "slots": []}

    def is_fallback(self, intent_name: str) -> bool:
        return intent_name == self.fallback_intent["intentName"]

    def intent(self, name: str) -> dict[str, Any]:
        return self.fallback_intent if self.is_fallback(name) else self.intents[name]

    def slots(self, intent_name: str) -> list[dict[str, Any]]:
        """The intent's slots in the order Lex elicits them: by slotPriorities, then as listed."""
        intent = self.intent(intent_name)
        priority = {item["slotId"]: item["priority"] for item in intent.get("slotPriorities") or []}
        listed = intent.get("slots") or []
        return sorted(
            listed, key=lambda slot: (priority.get(slot.get("slotId"), len(listed)), slot["slotName"])
        )

    def slot(self, intent_name: str, slot_name: str) -> dict[str, Any] | None:
        return next((slot for slot in self.slots(intent_name) if slot["slotName"] == slot_name), None)

    def sub_slots(self, intent_name: str, slot_name: str) -> dict[str, dict[str, Any]]:
        """A composite slot's sub-slot specifications by name ({} for other slots)."""
        setting = (self.slot(intent_name, slot_name) or {}).get("subSlotSetting") or {}
        return dict(setting.get("slotSpecifications") or {})

    def sub_slot_expression(self, intent_name: str, slot_name: str) -> str:
        """The expression saying which sub-slots fill a composite slot (default: all of them)."""
        setting = (self.slot(intent_name, slot_name) or {}).get("subSlotSetting") or {}
        names = self.sub_slots(intent_name, slot_name)
        return str(setting.get("expression") or " AND ".join(names))

    def slot_types(self) -> list[dict[str, Any]]:
        return list(self.snapshot.get("slotTypes") or [])

    def dialog_hook_enabled(self, intent_name: str) -> bool:
        hook = self.intent(intent_name).get("dialogCodeHook") or {}
        return bool(hook.get("enabled")) and self.code_hook_url is not None

    def fulfillment_hook_enabled(self, intent_name: str) -> bool:
        hook = self.intent(intent_name).get("fulfillmentCodeHook") or {}
        return bool(hook.get("enabled")) and hook.get("active", True) and self.code_hook_url is not None

    @cached_property
    def code_hook_url(self) -> str | None:
        """The alias's code hook for this locale: in Nimbus, the lambdaARN is an http(s) URL."""
        settings = (self.alias.get("botAliasLocaleSettings") or {}).get(self.locale_id) or {}
        if not settings.get("enabled", True):
            return None
        hook = (settings.get("codeHookSpecification") or {}).get("lambdaCodeHook") or {}
        return hook.get("lambdaARN")

    def bot_description(self) -> dict[str, str]:
        """The ``bot`` member of a code hook's input event."""
        return {
            "id": self.bot_id,
            "name": self.bot_name,
            "aliasId": self.alias_id,
            "aliasName": self.alias_name,
            "localeId": self.locale_id,
            "version": self.bot_version,
        }
