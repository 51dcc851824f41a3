"""Lex V2's dialog on hand-made bot snapshots, without a server: intent choice and fallback, slot
elicitation in priority order, confirmation, fulfillment, code hooks, contexts and retries.

Understanding is a word-overlap classifier over the snapshot's sample utterances and a slot filler
over the snapshot's slot type values, so the dialog is tested apart from the NLU engine."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from nimbus.errors import AwsError
from nimbus.services.lexv2_runtime.bot_locale import BotLocale
from nimbus.services.lexv2_runtime.code_hooks import lambda_response
from nimbus.services.lexv2_runtime.confirmation import confirmation_state
from nimbus.services.lexv2_runtime.dialog import Conversation, Dialog, Utterance

NOW = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
HOOK_URL = "http://127.0.0.1:9/hook"


def plain(text: str) -> dict[str, Any]:
    return {"messageGroups": [{"message": {"plainTextMessage": {"value": text}}}], "maxRetries": 2}


def slot(name: str, type_id: str, prompt: str, *, required: bool = True, **extra: Any) -> dict[str, Any]:
    setting = {"slotConstraint": "Required" if required else "Optional", "promptSpecification": plain(prompt)}
    return {
        "slotName": name,
        "slotId": f"S{name}",
        "slotTypeId": type_id,
        "valueElicitationSetting": {**setting, **extra},
    }


def flowers_snapshot(**order_flowers: Any) -> dict[str, Any]:
    intent = {
        "intentName": "OrderFlowers",
        "intentId": "IORDER",
        "sampleUtterances": [
            {"utterance": "I would like to order flowers"},
            {"utterance": "buy {FlowerType}"},
        ],
        "slotPriorities": [
            {"priority": 1, "slotId": "SFlowerType"},
            {"priority": 2, "slotId": "SPickupDay"},
        ],
        "slots": [
            slot("PickupDay", "TDAY", "What day?"),
            slot("FlowerType", "TFLOWER", "What kind of flowers?"),
        ],
        "intentConfirmationSetting": {
            "promptSpecification": plain("Order {FlowerType} for {PickupDay}?"),
            "declinationResponse": plain("Okay, no order."),
        },
        "intentClosingSetting": {"closingResponse": plain("Your {FlowerType} are ordered.")},
        "outputContexts": [{"name": "ordered", "timeToLiveInSeconds": 60, "turnsToLive": 2}],
        **order_flowers,
    }
    return {
        "bot": {"botId": "BOT0000001", "botName": "Flowers", "idleSessionTTLInSeconds": 300},
        "locale": {"localeId": "en_US", "nluIntentConfidenceThreshold": 0.5},
        "intents": [
            intent,
            {
                "intentName": "TrackOrder",
                "sampleUtterances": [{"utterance": "where is my order"}],
                "inputContexts": [{"name": "ordered"}],
                "slots": [],
            },
            {"intentName": "FallbackIntent", "parentIntentSignature": "AMAZON.FallbackIntent", "slots": []},
        ],
        "slotTypes": [
            {
                "slotTypeId": "TFLOWER",
                "slotTypeName": "FlowerTypes",
                "slotTypeValues": _values("roses", "tulips"),
            },
            {"slotTypeId": "TDAY", "slotTypeName": "Days", "slotTypeValues": _values("monday", "friday")},
        ],
        "nluModelPath": "unused",
    }


def _values(*words: str) -> list[dict[str, Any]]:
    return [{"sampleValue": {"value": word}} for word in words]


class WordOverlap:
    """Confidence = the share of an intent's sample words found in the text; slots by exact value."""

    def __init__(self, snapshot: dict[str, Any]) -> None:
        self.snapshot = snapshot

    def classify(self, text: str) -> list[tuple[str, float]]:
        words = set(re.findall(r"[a-z]+", text.lower()))
        scores = []
        for intent in self.snapshot["intents"]:
            samples = [
                set(re.findall(r"[a-z]+", s["utterance"].lower())) for s in intent.get("sampleUtterances", [])
            ]
            best = max((len(words & sample) / len(sample) for sample in samples if sample), default=0.0)
            scores.append((intent["intentName"], best))
        return sorted(scores, key=lambda item: -item[1])

    def slot_values(
        self, intent_name: str, text: str, only: str | None, hints: dict[str, list[str]]
    ) -> dict[str, dict[str, Any]]:
        intent = next(i for i in self.snapshot["intents"] if i["intentName"] == intent_name)
        types = {t["slotTypeId"]: t for t in self.snapshot["slotTypes"]}
        found = {}
        for item in intent["slots"]:
            if only is not None and item["slotName"] != only:
                continue
            for value in types[item["slotTypeId"]]["slotTypeValues"]:
                word = value["sampleValue"]["value"]
                if word in text.lower():
                    found[item["slotName"]] = {"value": {"originalValue": word, "interpretedValue": word}}
        return found


class RecordingHook:
    def __init__(self, answer: Any) -> None:
        self.answer = answer
        self.events: list[dict[str, Any]] = []

    def __call__(self, url: str, event: dict[str, Any]) -> dict[str, Any]:
        self.events.append(event)
        answer = self.answer(event) if callable(self.answer) else self.answer
        return lambda_response(answer)


def no_hook(url: str, event: dict[str, Any]) -> dict[str, Any]:
    raise AssertionError("no code hook is configured")


def alias(url: str | None = None) -> dict[str, Any]:
    settings: dict[str, Any] = {"enabled": True}
    if url:
        settings["codeHookSpecification"] = {
            "lambdaCodeHook": {"lambdaARN": url, "codeHookInterfaceVersion": "1.0"}
        }
    return {
        "botAliasId": "TSTALIASID",
        "botAliasName": "Test",
        "botVersion": "DRAFT",
        "botAliasLocaleSettings": {"en_US": settings},
    }


class Chat:
    def __init__(self, snapshot: dict[str, Any], hook: Any = no_hook, url: str | None = None) -> None:
        self.dialog = Dialog(BotLocale(snapshot, alias(url)), WordOverlap(snapshot), hook)
        self.conversation = Conversation()
        self.now = NOW
        self.missed = False

    def say(self, text: str) -> Conversation:
        reply = self.dialog.respond(self.conversation, Utterance(text, "session-1", self.now))
        self.conversation, self.missed = reply.conversation, reply.missed
        return self.conversation

    @property
    def action(self) -> dict[str, Any]:
        return self.conversation.state["dialogAction"]

    @property
    def intent(self) -> dict[str, Any]:
        return self.conversation.state["intent"]

    @property
    def said(self) -> list[str]:
        return [message["content"] for message in self.conversation.messages]


def test_slots_are_elicited_in_priority_order_then_confirmed_and_closed() -> None:
    chat = Chat(flowers_snapshot())
    chat.say("I would like to order flowers")
    assert chat.action == {"type": "ElicitSlot", "slotToElicit": "FlowerType"}
    assert chat.intent["state"] == "InProgress"
    assert chat.said == ["What kind of flowers?"]
    chat.say("roses please")
    assert chat.action == {"type": "ElicitSlot", "slotToElicit": "PickupDay"}
    chat.say("on friday")
    assert chat.action == {"type": "ConfirmIntent"}
    assert chat.said == ["Order roses for friday?"]
    chat.say("yes")
    assert chat.action == {"type": "Close"}
    assert chat.intent["state"] == "ReadyForFulfillment"
    assert chat.intent["confirmationState"] == "Confirmed"
    assert chat.said == ["Your roses are ordered."]
    assert chat.intent["slots"]["FlowerType"]["value"]["interpretedValue"] == "roses"


def test_slots_in_the_first_utterance_are_not_asked_for() -> None:
    chat = Chat(flowers_snapshot())
    chat.say("buy tulips on monday")
    assert chat.action == {"type": "ConfirmIntent"}


def test_declined_confirmation_fails_the_intent_with_the_declination_response() -> None:
    chat = Chat(flowers_snapshot())
    chat.say("buy tulips on monday")
    chat.say("no")
    assert chat.action == {"type": "Close"}
    assert chat.intent["state"] == "Failed"
    assert chat.intent["confirmationState"] == "Denied"
    assert chat.said == ["Okay, no order."]


def test_nonsense_falls_back_and_is_missed() -> None:
    chat = Chat(flowers_snapshot())
    chat.say("the quick brown fox")
    assert chat.intent["name"] == "FallbackIntent"
    assert chat.missed
    first = chat.conversation.interpretations[0]
    assert first["intent"]["name"] == "FallbackIntent" and "nluConfidence" not in first


def test_interpretations_are_best_first_with_fallback_listed() -> None:
    chat = Chat(flowers_snapshot())
    chat.say("I would like to order flowers")
    names = [item["intent"]["name"] for item in chat.conversation.interpretations]
    assert names[0] == "OrderFlowers" and "FallbackIntent" in names
    assert chat.conversation.interpretations[0]["nluConfidence"]["score"] == 1.0
    assert not chat.missed


def test_an_unanswered_prompt_is_repeated_until_its_retries_run_out() -> None:
    chat = Chat(flowers_snapshot())
    chat.say("I would like to order flowers")
    chat.say("hmm")
    assert chat.action == {"type": "ElicitSlot", "slotToElicit": "FlowerType"} and chat.missed
    chat.say("hmm")
    chat.say("hmm")
    assert chat.action == {"type": "Close"} and chat.intent["state"] == "Failed"


def test_an_intent_needing_a_context_waits_for_it_and_the_context_lasts_its_turns() -> None:
    chat = Chat(flowers_snapshot())
    chat.say("where is my order")
    assert chat.intent["name"] == "FallbackIntent"
    for text in ("buy roses on friday", "yes"):
        chat.say(text)
    assert [c["name"] for c in chat.conversation.session_state(NOW)["activeContexts"]] == ["ordered"]
    chat.say("where is my order")
    assert chat.intent["name"] == "TrackOrder"
    chat.say("where is my order")  # the second and last turn of the context
    chat.say("where is my order")
    assert chat.intent["name"] == "FallbackIntent"


def test_a_context_expires_with_time() -> None:
    chat = Chat(flowers_snapshot())
    for text in ("buy roses on friday", "yes"):
        chat.say(text)
    chat.now = NOW + timedelta(seconds=61)
    chat.say("where is my order")
    assert chat.intent["name"] == "FallbackIntent"


def test_dialog_hook_sees_the_proposed_step_and_can_reject_a_slot() -> None:
    def reject_friday(event: dict[str, Any]) -> dict[str, Any]:
        intent = event["sessionState"]["intent"]
        day = (intent["slots"].get("PickupDay") or {}).get("value", {}).get("interpretedValue")
        if day == "friday":
            intent["slots"].pop("PickupDay")
            return {
                "sessionState": {
                    "dialogAction": {"type": "ElicitSlot", "slotToElicit": "PickupDay"},
                    "intent": intent,
                },
                "messages": [
                    {"contentType": "PlainText", "content": "We are closed on friday. Another day?"}
                ],
            }
        return {
            "sessionState": {
                "dialogAction": {"type": "Delegate"},
                "intent": intent,
                "sessionAttributes": {"seen": "1"},
            }
        }

    hook = RecordingHook(reject_friday)
    chat = Chat(flowers_snapshot(dialogCodeHook={"enabled": True}), hook, HOOK_URL)
    chat.say("buy roses")
    event = hook.events[0]
    assert event["invocationSource"] == "DialogCodeHook" and event["messageVersion"] == "1.0"
    assert event["proposedNextState"]["dialogAction"] == {"type": "ElicitSlot", "slotToElicit": "PickupDay"}
    assert event["bot"] == {
        "id": "BOT0000001",
        "name": "Flowers",
        "aliasId": "TSTALIASID",
        "aliasName": "Test",
        "localeId": "en_US",
        "version": "DRAFT",
    }
    assert event["inputTranscript"] == "buy roses" and event["sessionId"] == "session-1"
    assert chat.said == ["What day?"] and chat.conversation.state["sessionAttributes"] == {"seen": "1"}
    chat.say("friday")
    assert chat.action == {"type": "ElicitSlot", "slotToElicit": "PickupDay"}
    assert chat.said == ["We are closed on friday. Another day?"]
    chat.say("monday")
    assert chat.action == {"type": "ConfirmIntent"}


def test_fulfillment_hook_decides_the_outcome() -> None:
    def fulfil(event: dict[str, Any]) -> dict[str, Any]:
        assert event["invocationSource"] == "FulfillmentCodeHook"
        assert event["sessionState"]["intent"]["state"] == "ReadyForFulfillment"
        intent = {**event["sessionState"]["intent"], "state": "Fulfilled"}
        return {
            "sessionState": {"dialogAction": {"type": "Close"}, "intent": intent},
            "messages": [{"contentType": "PlainText", "content": "Done."}],
        }

    hook = RecordingHook(fulfil)
    chat = Chat(flowers_snapshot(fulfillmentCodeHook={"enabled": True}), hook, HOOK_URL)
    chat.say("buy roses on monday")
    chat.say("yes please")
    assert chat.intent["state"] == "Fulfilled" and chat.said == ["Done."]
    assert len(hook.events) == 1


@pytest.mark.parametrize(
    "answer",
    [
        [],
        {"messages": []},
        {"sessionState": {"dialogAction": {"type": "Dance"}}},
        {"sessionState": {"dialogAction": {"type": "ElicitSlot"}, "intent": {"name": "OrderFlowers"}}},
        {
            "sessionState": {
                "dialogAction": {"type": "ElicitSlot", "slotToElicit": "Color"},
                "intent": {"name": "OrderFlowers"},
            }
        },
        {
            "sessionState": {
                "dialogAction": {"type": "Close"},
                "intent": {"name": "NoSuchIntent", "state": "Fulfilled"},
            }
        },
    ],
)
def test_malformed_hook_answers_are_dependency_failures(answer: Any) -> None:
    chat = Chat(flowers_snapshot(dialogCodeHook={"enabled": True}), RecordingHook(answer), HOOK_URL)
    with pytest.raises(AwsError) as raised:
        chat.say("buy roses")
    assert raised.value.code == "DependencyFailedException" and raised.value.status == 424


def test_defaults_fill_slots_from_literals_and_contexts() -> None:
    day = slot(
        "PickupDay",
        "TDAY",
        "What day?",
        defaultValueSpecification={"defaultValueList": [{"defaultValue": "monday"}]},
    )
    snapshot = flowers_snapshot()
    snapshot["intents"][0]["slots"][0] = day
    chat = Chat(snapshot)
    chat.say("buy roses")
    assert chat.action == {"type": "ConfirmIntent"}
    assert chat.intent["slots"]["PickupDay"]["value"]["interpretedValue"] == "monday"


def test_put_session_prompt_is_the_slot_prompt() -> None:
    chat = Chat(flowers_snapshot())
    state = {
        "dialogAction": {"type": "ElicitSlot", "slotToElicit": "PickupDay"},
        "intent": {"name": "OrderFlowers", "slots": {}},
    }
    assert chat.dialog.prompt(state) == [{"contentType": "PlainText", "content": "What day?"}]


@pytest.mark.parametrize(
    ("text", "state"),
    [
        ("yes", "Confirmed"),
        ("Sure, go ahead", "Confirmed"),
        ("no thanks", "Denied"),
        ("yes... no", "Denied"),
        ("maybe", None),
    ],
)
def test_confirmation_answers(text: str, state: str | None) -> None:
    assert confirmation_state(text) == state


def _step(action: str, **extra: Any) -> dict[str, Any]:
    return {"dialogAction": {"type": action, **extra.pop("dialog", {})}, **extra}


def test_a_slot_capture_branch_chooses_the_next_step_and_sets_values() -> None:
    capture = {
        "captureConditional": {
            "active": True,
            "conditionalBranches": [
                {
                    "name": "Roses",
                    "condition": {"expressionString": '{FlowerType} = "roses" AND [vip] = "yes"'},
                    "response": {
                        "messageGroups": [{"message": {"plainTextMessage": {"value": "Fine roses!"}}}]
                    },
                    "nextStep": _step(
                        "ConfirmIntent",
                        intent={
                            "name": "OrderFlowers",
                            "slots": {"PickupDay": {"value": {"interpretedValue": "monday"}}},
                        },
                        sessionAttributes={"branch": "roses"},
                    ),
                }
            ],
            "defaultBranch": {"nextStep": _step("ElicitSlot", dialog={"slotToElicit": "PickupDay"})},
        }
    }
    snapshot = flowers_snapshot()
    snapshot["intents"][0]["slots"][1]["valueElicitationSetting"]["slotCaptureSetting"] = capture
    chat = Chat(snapshot)
    chat.conversation.state["sessionAttributes"] = {"vip": "yes"}
    chat.say("I would like to order flowers")
    chat.say("roses")
    assert chat.said == ["Fine roses!", "Order roses for monday?"]
    assert chat.action == {"type": "ConfirmIntent"}
    assert chat.conversation.state["sessionAttributes"]["branch"] == "roses"
    other = Chat(snapshot)
    other.say("I would like to order flowers")
    other.say("tulips")
    assert other.action == {"type": "ElicitSlot", "slotToElicit": "PickupDay"}


def test_an_initial_response_then_a_started_intent_and_the_closing_next_step() -> None:
    snapshot = flowers_snapshot(
        initialResponseSetting={
            "initialResponse": plain("Welcome to the flower shop."),
            "nextStep": _step("ElicitSlot", dialog={"slotToElicit": "PickupDay"}),
        },
        intentClosingSetting={
            "closingResponse": plain("Your {FlowerType} are ordered."),
            "nextStep": _step("ElicitIntent"),
        },
    )
    chat = Chat(snapshot)
    chat.say("I would like to order flowers")
    assert chat.said == ["Welcome to the flower shop.", "What day?"]
    assert chat.action == {"type": "ElicitSlot", "slotToElicit": "PickupDay"}
    chat.say("friday")
    chat.say("roses")
    chat.say("yes")
    assert chat.said == ["Your roses are ordered."]
    assert chat.action == {"type": "ElicitIntent"}
    assert chat.intent["state"] == "ReadyForFulfillment"


def test_a_declination_next_step_starts_another_intent_and_loops_are_refused() -> None:
    confirmation = flowers_snapshot()["intents"][0]["intentConfirmationSetting"]
    snapshot = flowers_snapshot(
        intentConfirmationSetting={
            **confirmation,
            "declinationNextStep": _step("StartIntent", intent={"name": "TrackOrder"}),
        }
    )
    snapshot["intents"][1]["inputContexts"] = []
    snapshot["intents"][1]["intentClosingSetting"] = {"closingResponse": plain("Tracking.")}
    chat = Chat(snapshot)
    for text in ("buy roses", "friday", "no"):
        chat.say(text)
    assert chat.intent["name"] == "TrackOrder"
    assert chat.said == ["Okay, no order.", "Tracking."]
    looping = flowers_snapshot(
        initialResponseSetting={"nextStep": _step("StartIntent", intent={"name": "OrderFlowers"})}
    )
    with pytest.raises(AwsError) as raised:
        Chat(looping).say("I would like to order flowers")
    assert raised.value.code == "ValidationException"


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("{Size} > 3 AND {Size} <= 10", True),
        ('{Size} >= 12 OR [tier] = "GOLD"', True),
        ("NOT ({Size} = 5)", False),
        ('{Toppings} CONTAINS "ham"', True),
        ("COUNT({Toppings}) = 2", True),
        ("EXISTS({Missing})", False),
        ('{Missing} != "x"', False),
        ('$.inputMode = "Text" && [tier] != "silver"', True),
        ("Make AND (Model OR Vin)", True),
    ],
)
def test_condition_expressions(expression: str, expected: bool) -> None:
    from nimbus.services.lexv2_runtime.conditions import evaluate
    from nimbus.services.lexv2_runtime.steps import resolver, scalar_slot

    slots = {
        "Size": scalar_slot("5"),
        "Toppings": {"shape": "List", "values": [scalar_slot("ham"), scalar_slot("pineapple")]},
        "Make": scalar_slot("Honda"),
        "Model": scalar_slot("Civic"),
    }
    resolve = resolver(slots, {"tier": "gold"}, {}, {"inputMode": "Text", "inputTranscript": "hi"})
    assert evaluate(expression, resolve) is expected
