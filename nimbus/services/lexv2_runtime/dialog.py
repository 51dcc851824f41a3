"""Lex V2's dialog: one user turn in, the next session state and messages out.

A turn either answers what the bot last asked (a slot value, a yes or no to a confirmation) or
starts an intent: the intents the utterance may mean are ranked by NLU confidence among those whose
input contexts are active, and FallbackIntent wins when the best is below the locale's threshold.
The intent then advances: required slots are elicited in priority order with their prompts, the
intent is confirmed when it asks for confirmation (a "no" gives the declination response and the
intent Failed), and a complete intent is fulfilled: by the fulfillment code hook when enabled (its
answer decides Fulfilled or Failed), else it is left ReadyForFulfillment for the client. The
closing response ends it and its output contexts become active. A dialog code hook, when enabled,
sees each step Lex proposes and may replace it.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from nimbus.services.lexv2_runtime.bot_locale import BotLocale
from nimbus.services.lexv2_runtime.code_hooks import MESSAGE_VERSION, CodeHookCaller
from nimbus.services.lexv2_runtime.confirmation import confirmation_state
from nimbus.services.lexv2_runtime.contexts import (
    ActiveContext,
    activate,
    alive,
    attribute,
    from_shape,
    one_turn_spent,
    satisfies,
)
from nimbus.services.lexv2_runtime.errors import dependency_failed
from nimbus.services.lexv2_runtime.messages import response_messages
from nimbus.services.lexv2_runtime.understanding import IntentScores, Understanding

MAX_INTERPRETATIONS = 5
DEFAULT_MAX_RETRIES = 2
TEXT_RESPONSE = "text/plain; charset=utf-8"


@dataclass
class Conversation:
    """What a session keeps between turns."""

    state: dict[str, Any] = field(default_factory=dict)  # SessionState without activeContexts
    contexts: list[ActiveContext] = field(default_factory=list)
    messages: list[dict[str, Any]] = field(default_factory=list)
    interpretations: list[dict[str, Any]] = field(default_factory=list)
    prompt_attempts: int = 0

    def session_state(self, now: datetime) -> dict[str, Any]:
        """The SessionState shape, with the contexts still alive at ``now``."""
        live = alive(self.contexts, now)
        return {**self.state, "activeContexts": [context.to_shape(now) for context in live]}


@dataclass(frozen=True)
class Utterance:
    text: str
    session_id: str
    now: datetime
    request_attributes: dict[str, str] = field(default_factory=dict)
    input_mode: str = "Text"
    response_content_type: str = TEXT_RESPONSE


@dataclass
class Reply:
    conversation: Conversation
    missed: bool  # the utterance activated no intent and filled no slot


@dataclass
class _Outcome:
    action: dict[str, Any]
    intent: dict[str, Any] | None
    messages: list[dict[str, Any]]
    missed: bool = False


@dataclass
class _Turn:
    """One turn in progress: what the code hooks may change as it goes."""

    utterance: Utterance
    scores: IntentScores
    contexts: list[ActiveContext]
    carried: list[ActiveContext]  # the contexts alive when the turn began: they spend one turn
    attributes: dict[str, str]
    attempts: int
    fulfilled_by_hook: bool = False


class Dialog:
    def __init__(self, bot: BotLocale, understanding: Understanding, call_code_hook: CodeHookCaller) -> None:
        self.bot = bot
        self.understanding = understanding
        self.call_code_hook = call_code_hook

    # ---- the turn ----------------------------------------------------------------------------

    def respond(self, conversation: Conversation, utterance: Utterance) -> Reply:
        carried = alive(conversation.contexts, utterance.now)
        turn = _Turn(
            utterance=utterance,
            scores=self.understanding.classify(utterance.text),
            contexts=list(carried),
            carried=carried,
            attributes=dict(conversation.state.get("sessionAttributes") or {}),
            attempts=conversation.prompt_attempts,
        )
        state = copy.deepcopy(conversation.state)
        intent = state.get("intent")
        action = (state.get("dialogAction") or {}).get("type")
        if intent and action == "ElicitSlot" and state["dialogAction"].get("slotToElicit"):
            outcome = self._slot_answer(turn, intent, state["dialogAction"]["slotToElicit"])
        elif intent and action == "ConfirmIntent":
            outcome = self._confirmation_answer(turn, intent)
        else:
            outcome = self._new_intent(turn)
        return self._reply(conversation, turn, outcome)

    def _reply(self, conversation: Conversation, turn: _Turn, outcome: _Outcome) -> Reply:
        state: dict[str, Any] = {"dialogAction": outcome.action, "sessionAttributes": turn.attributes}
        if outcome.intent is not None:
            state["intent"] = outcome.intent
        if "originatingRequestId" in conversation.state:
            state["originatingRequestId"] = conversation.state["originatingRequestId"]
        contexts = [
            one_turn_spent(context) if any(context is old for old in turn.carried) else context
            for context in turn.contexts
        ]
        return Reply(
            Conversation(
                state=state,
                contexts=contexts,
                messages=outcome.messages,
                interpretations=self._interpretations(turn, outcome.intent),
                prompt_attempts=turn.attempts,
            ),
            missed=outcome.missed,
        )

    # ---- what the utterance means ---------------------------------------------------------------

    def _ranked(self, turn: _Turn) -> IntentScores:
        """The bot's intents the utterance may mean, best first, among those whose contexts are active."""
        eligible = [
            (name, score)
            for name, score in turn.scores
            if name in self.bot.intents
            and not self.bot.is_fallback(name)
            and satisfies(self.bot.intents[name], turn.contexts)
        ]
        return sorted(eligible, key=lambda item: item[1], reverse=True)

    def _recognized(self, turn: _Turn) -> str | None:
        ranked = self._ranked(turn)
        if ranked and ranked[0][1] >= self.bot.confidence_threshold:
            return ranked[0][0]
        return None

    def _interpretations(self, turn: _Turn, intent: dict[str, Any] | None) -> list[dict[str, Any]]:
        scores = dict(self._ranked(turn))
        fallback = self.bot.fallback_intent["intentName"]
        found: list[dict[str, Any]] = []
        if intent is not None:
            found.append(_interpretation(intent, scores.get(intent["name"])))
        for name, score in scores.items():
            if intent is None or name != intent["name"]:
                found.append(_interpretation(_fresh_intent(name), score))
        if intent is None or intent["name"] != fallback:
            found.append(_interpretation(_fresh_intent(fallback), None))
        return found[:MAX_INTERPRETATIONS]

    # ---- the three kinds of turn ---------------------------------------------------------------

    def _new_intent(self, turn: _Turn) -> _Outcome:
        name = self._recognized(turn)
        turn.attempts = 0
        if name is None:
            return self._advance(turn, _fresh_intent(self.bot.fallback_intent["intentName"]), missed=True)
        intent = _fresh_intent(name)
        intent["slots"] = self.understanding.slot_values(name, turn.utterance.text, None)
        return self._advance(turn, intent)

    def _slot_answer(self, turn: _Turn, intent: dict[str, Any], slot_name: str) -> _Outcome:
        found = self.understanding.slot_values(intent["name"], turn.utterance.text, slot_name)
        if slot_name in found:
            intent["slots"] = {**(intent.get("slots") or {}), slot_name: found[slot_name]}
            turn.attempts = 0
            return self._advance(turn, intent)
        switched = self._recognized(turn)
        if switched is not None and switched != intent["name"]:
            return self._new_intent(turn)
        slot = self.bot.slot(intent["name"], slot_name) or {}
        prompt = (slot.get("valueElicitationSetting") or {}).get("promptSpecification")
        return self._retry(turn, intent, {"type": "ElicitSlot", "slotToElicit": slot_name}, prompt)

    def _confirmation_answer(self, turn: _Turn, intent: dict[str, Any]) -> _Outcome:
        answer = confirmation_state(turn.utterance.text)
        if answer is None:
            prompt = (self.bot.intent(intent["name"]).get("intentConfirmationSetting") or {}).get(
                "promptSpecification"
            )
            return self._retry(turn, intent, {"type": "ConfirmIntent"}, prompt)
        intent["confirmationState"] = answer
        turn.attempts = 0
        return self._advance(turn, intent)

    def _retry(
        self, turn: _Turn, intent: dict[str, Any], action: dict[str, Any], prompt: dict[str, Any] | None
    ) -> _Outcome:
        """Asks again, until the prompt's retries run out: then the intent fails."""
        turn.attempts += 1
        max_retries = (prompt or {}).get("maxRetries", DEFAULT_MAX_RETRIES)
        if turn.attempts > max_retries:
            turn.attempts = 0
            return _Outcome({"type": "Close"}, {**intent, "state": "Failed"}, [], missed=True)
        return _Outcome(action, intent, response_messages(prompt, intent.get("slots") or {}), missed=True)

    # ---- moving an intent on -------------------------------------------------------------------

    def _advance(self, turn: _Turn, intent: dict[str, Any], *, missed: bool = False) -> _Outcome:
        self._fill_defaults(turn, intent)
        action = self._next_action(intent)
        if self.bot.dialog_hook_enabled(intent["name"]):
            proposed = {**intent, "state": _proposed_state(intent, action)}
            event = self._event(turn, "DialogCodeHook", proposed)
            event["proposedNextState"] = {
                "dialogAction": action,
                "intent": proposed,
                "prompt": {"attempt": _attempt_label(turn.attempts)},
            }
            outcome = self._hook_answer(turn, self.call_code_hook(self._hook_url(), event))
        else:
            outcome = self._take(turn, intent, action)
        outcome.missed = missed
        return outcome

    def _next_action(self, intent: dict[str, Any]) -> dict[str, Any]:
        """What Lex does next for the intent: elicit the first missing required slot, confirm, close."""
        filled = intent.get("slots") or {}
        for slot in self.bot.slots(intent["name"]):
            setting = slot.get("valueElicitationSetting") or {}
            if setting.get("slotConstraint") == "Required" and not filled.get(slot["slotName"]):
                return {"type": "ElicitSlot", "slotToElicit": slot["slotName"]}
        confirmation = self.bot.intent(intent["name"]).get("intentConfirmationSetting") or {}
        asks = confirmation.get("active", True) and confirmation.get("promptSpecification")
        if asks and intent.get("confirmationState", "None") == "None":
            return {"type": "ConfirmIntent"}
        return {"type": "Close"}

    def _fill_defaults(self, turn: _Turn, intent: dict[str, Any]) -> None:
        """Fills empty slots from their default values (literal, or ``#context.attribute``)."""
        slots = intent.setdefault("slots", {})
        for slot in self.bot.slots(intent["name"]):
            if slots.get(slot["slotName"]):
                continue
            defaults = (slot.get("valueElicitationSetting") or {}).get("defaultValueSpecification") or {}
            for default in defaults.get("defaultValueList") or []:
                written = default["defaultValue"]
                value = attribute(turn.contexts, written) if written.startswith("#") else written
                if value:
                    slots[slot["slotName"]] = _slot_value(value)
                    break

    def _take(self, turn: _Turn, intent: dict[str, Any], action: dict[str, Any]) -> _Outcome:
        """Carries out a dialog action with the bot's own prompts and responses."""
        slots = intent.get("slots") or {}
        definition = self.bot.intent(intent["name"])
        if action["type"] == "ElicitSlot":
            slot = self.bot.slot(intent["name"], action["slotToElicit"]) or {}
            prompt = (slot.get("valueElicitationSetting") or {}).get("promptSpecification")
            return _Outcome(action, {**intent, "state": "InProgress"}, response_messages(prompt, slots))
        confirmation = definition.get("intentConfirmationSetting") or {}
        if action["type"] == "ConfirmIntent":
            messages = response_messages(confirmation.get("promptSpecification"), slots)
            return _Outcome(action, {**intent, "state": "InProgress"}, messages)
        if intent.get("confirmationState") == "Denied":
            messages = response_messages(confirmation.get("declinationResponse"), slots)
            return _Outcome({"type": "Close"}, {**intent, "state": "Failed"}, messages)
        return self._fulfill(turn, intent)

    def _fulfill(self, turn: _Turn, intent: dict[str, Any]) -> _Outcome:
        if self.bot.fulfillment_hook_enabled(intent["name"]) and not turn.fulfilled_by_hook:
            turn.fulfilled_by_hook = True
            event = self._event(turn, "FulfillmentCodeHook", {**intent, "state": "ReadyForFulfillment"})
            return self._hook_answer(turn, self.call_code_hook(self._hook_url(), event))
        return self._close(turn, {**intent, "state": intent.get("state") or "ReadyForFulfillment"}, None)

    def _close(self, turn: _Turn, intent: dict[str, Any], messages: list[dict[str, Any]] | None) -> _Outcome:
        """Ends the intent: a complete one activates its output contexts and says its closing words."""
        definition = self.bot.intent(intent["name"])
        if intent.get("state") in (None, "InProgress", "Waiting"):
            intent = {**intent, "state": "ReadyForFulfillment"}
        slots = intent.get("slots") or {}
        complete = intent["state"] in ("Fulfilled", "ReadyForFulfillment")
        if complete:
            turn.contexts = activate(
                turn.contexts, definition.get("outputContexts") or [], turn.utterance.now
            )
        if messages is None:
            messages = self._post_fulfillment_messages(definition, intent["state"], slots)
            closing = definition.get("intentClosingSetting") or {}
            if complete and closing.get("active", True):
                messages += response_messages(closing.get("closingResponse"), slots)
        return _Outcome({"type": "Close"}, intent, messages)

    def _post_fulfillment_messages(
        self, definition: dict[str, Any], state: str, slots: dict[str, Any]
    ) -> list[dict[str, Any]]:
        hook = definition.get("fulfillmentCodeHook") or {}
        if not self.bot.fulfillment_hook_enabled(definition["intentName"]):
            return []
        status = hook.get("postFulfillmentStatusSpecification") or {}
        response = status.get("successResponse") if state == "Fulfilled" else status.get("failureResponse")
        return response_messages(response, slots)

    # ---- code hooks ----------------------------------------------------------------------------

    def _hook_url(self) -> str:
        url = self.bot.code_hook_url
        if url is None:
            raise dependency_failed("No code hook is configured for the bot alias and locale.")
        return url

    def _event(self, turn: _Turn, source: str, intent: dict[str, Any]) -> dict[str, Any]:
        """The Lex V2 Lambda input event."""
        utterance = turn.utterance
        return {
            "messageVersion": MESSAGE_VERSION,
            "invocationSource": source,
            "inputMode": utterance.input_mode,
            "responseContentType": utterance.response_content_type,
            "sessionId": utterance.session_id,
            "inputTranscript": utterance.text,
            "bot": self.bot.bot_description(),
            "interpretations": self._interpretations(turn, intent),
            "requestAttributes": utterance.request_attributes,
            "sessionState": {
                "sessionAttributes": turn.attributes,
                "activeContexts": [context.to_shape(utterance.now) for context in turn.contexts],
                "intent": intent,
            },
        }

    def _hook_answer(self, turn: _Turn, response: dict[str, Any]) -> _Outcome:
        """Carries out what a code hook answered (already checked against Lex's shapes)."""
        state = response["sessionState"]
        if "sessionAttributes" in state:
            turn.attributes = dict(state["sessionAttributes"])
        if "activeContexts" in state:
            turn.contexts = [from_shape(context, turn.utterance.now) for context in state["activeContexts"]]
        action = state["dialogAction"]
        intent = self._known_intent(state.get("intent"))
        messages = response.get("messages")
        kind = action["type"]
        if kind == "ElicitIntent":
            return _Outcome({"type": "ElicitIntent"}, None, messages or [])
        assert intent is not None  # the response check requires an intent for every other action
        if kind == "Delegate":
            self._fill_defaults(turn, intent)
            return self._take(turn, intent, self._next_action(intent))
        if kind == "Close":
            return self._close(turn, intent, messages)
        if kind == "ElicitSlot" and self.bot.slot(intent["name"], action["slotToElicit"]) is None:
            raise dependency_failed(
                f"Invalid Lambda Response: slot {action['slotToElicit']} is not a slot of {intent['name']}."
            )
        outcome = self._take(
            turn, intent, {key: action[key] for key in ("type", "slotToElicit") if key in action}
        )
        if messages:
            outcome.messages = messages
        return outcome

    def _known_intent(self, intent: dict[str, Any] | None) -> dict[str, Any] | None:
        if intent is None:
            return None
        name = intent["name"]
        if name not in self.bot.intents and not self.bot.is_fallback(name):
            raise dependency_failed(f"Invalid Lambda Response: the bot has no intent named {name}.")
        return {"confirmationState": "None", **intent, "slots": _filled(intent.get("slots"))}

    # ---- prompts without a turn (PutSession) ---------------------------------------------------

    def prompt(self, state: dict[str, Any]) -> list[dict[str, Any]]:
        """The bot's prompt for a session state's dialog action (what PutSession answers with)."""
        intent = state.get("intent")
        action = state.get("dialogAction") or {}
        if intent is None or (
            intent["name"] not in self.bot.intents and not self.bot.is_fallback(intent["name"])
        ):
            return []
        slots = intent.get("slots") or {}
        if action.get("type") == "ElicitSlot":
            slot = self.bot.slot(intent["name"], action.get("slotToElicit", "")) or {}
            return response_messages(
                (slot.get("valueElicitationSetting") or {}).get("promptSpecification"), slots
            )
        if action.get("type") == "ConfirmIntent":
            confirmation = self.bot.intent(intent["name"]).get("intentConfirmationSetting") or {}
            return response_messages(confirmation.get("promptSpecification"), slots)
        return []


def _fresh_intent(name: str) -> dict[str, Any]:
    return {"name": name, "slots": {}, "state": "InProgress", "confirmationState": "None"}


def _interpretation(intent: dict[str, Any], score: float | None) -> dict[str, Any]:
    found: dict[str, Any] = {"intent": intent, "interpretationSource": "Lex"}
    if score is not None:
        found["nluConfidence"] = {"score": round(score, 2)}
    return found


def _slot_value(value: str) -> dict[str, Any]:
    return {
        "value": {"originalValue": value, "interpretedValue": value, "resolvedValues": [value]},
        "shape": "Scalar",
    }


def _filled(slots: dict[str, Any] | None) -> dict[str, Any]:
    """Slots that hold a value (a code hook may send the empty ones as null)."""
    return {name: slot for name, slot in (slots or {}).items() if slot}


def _proposed_state(intent: dict[str, Any], action: dict[str, Any]) -> str:
    if action["type"] == "Close" and intent.get("confirmationState") != "Denied":
        return "ReadyForFulfillment"
    return "InProgress"


def _attempt_label(attempts: int) -> str:
    return "Initial" if attempts == 0 else f"Retry{attempts}"
